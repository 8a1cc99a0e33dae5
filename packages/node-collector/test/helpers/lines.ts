// Shared by the writer process and the stress tests: what each sequence-numbered line must look like on arrival,
// and the bookkeeping of lost and duplicated lines.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { DecodedResourceLogs } from './otlp-decode.ts';

type Rotation = 'rename' | 'copytruncate' | 'rename-delete';

interface WriterOptions {
  dir: string;
  /** Distinguishes the files of several writers in the bodies. */
  id: string;
  phases: { lines: number; rotation: Rotation }[];
  linesPerSecond: number;
  rotateBytes: number;
  keep: number;
  /** Lines written into the renamed file after the new one exists (containerd reopens late). */
  lateLines: number;
}

/** The exact body of line `n` of writer `id` (after P/F joining). Some end in spaces on purpose. */
function expectedBody(id: string, n: number): string {
  return `seq=${id}:${n} ${'abcdefghij'.repeat(n % 7)}${' '.repeat(n % 3)}`;
}

const NODE = process.execPath;
const WRITER = fileURLToPath(new URL('./writer.ts', import.meta.url));

/** Runs a writer process; resolves with the number of lines it wrote. */
function runWriter(o: WriterOptions): { done: Promise<number>; kill(): void } {
  const child = spawn(NODE, [WRITER, JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const done = new Promise<number>((resolve, reject) => {
    child.on('exit', (code) => {
      if (code !== 0) reject(new Error(`writer ${o.id} exited with ${code}`));
      else resolve((JSON.parse(out.trim()) as { lines: number }).lines);
    });
  });
  return { done, kill: () => child.kill('SIGKILL') };
}

/** Counts every arriving line per writer id; checks each body byte for byte and its stream. */
class Tally {
  readonly counts = new Map<string, Uint16Array>();
  corrupted = 0;
  wrongStream = 0;
  records = 0;
  readonly examples: string[] = [];
  constructor(ids: string[], maxLines: number) {
    for (const id of ids) this.counts.set(id, new Uint16Array(maxLines));
  }
  onBatch = (rl: DecodedResourceLogs): void => {
    for (const r of rl.records) {
      this.records++;
      const body = r.body.toString('utf8');
      const m = /^seq=([^:]+):(\d+) /.exec(body);
      const arr = m === null ? undefined : this.counts.get(m[1] ?? '');
      const n = Number(m?.[2]);
      if (m === null || arr === undefined || n >= arr.length || body !== expectedBody(m[1] ?? '', n)) {
        this.corrupted++;
        if (this.examples.length < 5) this.examples.push(JSON.stringify(body.slice(0, 200)));
        continue;
      }
      const c = arr[n] ?? 0;
      arr[n] = c + 1;
      if (r.attributes['log.iostream'] !== (n % 2 === 0 ? 'stdout' : 'stderr')) this.wrongStream++;
    }
  };
  /** Lines of `id` among the first `n` that never arrived / arrived more than once. */
  result(written: Map<string, number>): { lost: number; duplicated: number; firstLost: string[] } {
    let lost = 0;
    let duplicated = 0;
    const firstLost: string[] = [];
    for (const [id, n] of written) {
      const arr = this.counts.get(id);
      if (arr === undefined) continue;
      for (let i = 0; i < n; i++) {
        const c = arr[i] ?? 0;
        if (c === 0) {
          lost++;
          if (firstLost.length < 10) firstLost.push(`${id}:${i}`);
        } else duplicated += c - 1;
      }
    }
    return { lost, duplicated, firstLost };
  }
  missing(written: Map<string, number>): number {
    return this.result(written).lost;
  }
}

export { expectedBody, runWriter, Tally };
export type { WriterOptions, Rotation };
