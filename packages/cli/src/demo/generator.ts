// Writes container logs the way kubelet lays them out for the CRI runtimes:
//   <root>/<namespace>_<pod>_<uid>/<container>/0.log, lines `<RFC3339Nano> <stdout|stderr> <P|F> <msg>`,
// and rotates them the way kubelet does: rename 0.log to 0.log.<YYYYMMDD-hhmmss>, start a new 0.log,
// keep the newest rotated file as it is, gzip the older ones, delete beyond `keepFiles`.
// Every record carries `seq=<n>` (per container, from 1) so the demo can prove that each one arrived.
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import type { DemoPod } from './objects.ts';

export interface GeneratorOptions {
  /** Root of the pod log tree (what /var/log/pods is on a node). */
  root: string;
  pods: readonly DemoPod[];
  /** Records per second over all containers. */
  rate: number;
  /** Rotate 0.log once it is at least this big (kubelet's containerLogMaxSize, 10Mi by default; small here to show it). */
  rotateBytes?: number;
  /** Files kept per container, 0.log included (kubelet's containerLogMaxFiles, 5 by default). */
  keepFiles?: number;
}

export interface ContainerCount {
  namespace: string;
  pod: string;
  uid: string;
  container: string;
  /** Records written; their seq values are 1..records. */
  records: number;
}

export interface GeneratorStats {
  records: number;
  lines: number;
  bytes: number;
  rotations: number;
  gzipped: number;
  containers: ContainerCount[];
}

export interface LogGenerator {
  /** Creates the pod directories and starts writing. */
  start(): Promise<void>;
  /** Stops writing after the current tick and closes every file. */
  stop(): Promise<GeneratorStats>;
  stats(): GeneratorStats;
}

interface Target {
  count: ContainerCount;
  dir: string;
  fh: FileHandle | undefined;
  size: number;
  lastRotationName: string;
}

const TICK_MS = 100;

const MESSAGES = [
  (c: string, n: number) => `level=info msg="order placed" container=${c} order_id=ord-${(n * 7919) % 100000} amount_cents=${(n * 37) % 9000 + 100}`,
  (c: string, n: number) => `level=info msg="GET /api/cart 200" container=${c} duration_ms=${(n * 13) % 250} bytes=${(n * 101) % 4096}`,
  (c: string, n: number) => `level=debug msg="cache lookup" container=${c} key=cart:${n % 97} hit=${n % 3 !== 0}`,
  (c: string, n: number) => `{"level":"info","msg":"payment authorised","container":"${c}","psp":"demo-pay","attempt":${(n % 3) + 1}}`,
  (c: string, n: number) => `level=warn msg="slow query" container=${c} table=orders duration_ms=${300 + (n % 700)} `,
];

/** RFC 3339 with nanoseconds and trailing zeros dropped, as Go's time.RFC3339Nano prints it (what kubelet writes). */
function rfc3339Nano(): string {
  const now = Date.now();
  const iso = new Date(now).toISOString(); // ...T07:04:32.123Z
  const subMs = Number(process.hrtime.bigint() % 1_000_000n);
  const frac = `${iso.slice(20, 23)}${String(subMs).padStart(6, '0')}`.replace(/0+$/, '');
  return `${iso.slice(0, 19)}${frac === '' ? '' : `.${frac}`}Z`;
}

/** kubelet's rotation suffix: time.Now().Format("20060102-150405"). */
function rotationSuffix(d: Date): string {
  const p = (n: number): string => String(n).padStart(2, '0');
  return `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}-${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}`;
}

export function createLogGenerator(options: GeneratorOptions): LogGenerator {
  const rotateBytes = options.rotateBytes ?? 16 * 1024;
  const keepFiles = options.keepFiles ?? 5;
  const targets: Target[] = [];
  for (const pod of options.pods) {
    for (const container of pod.containers) {
      targets.push({
        count: { namespace: pod.namespace, pod: pod.name, uid: pod.uid, container, records: 0 },
        dir: join(options.root, `${pod.namespace}_${pod.name}_${pod.uid}`, container),
        fh: undefined,
        size: 0,
        lastRotationName: '',
      });
    }
  }
  let lines = 0;
  let bytes = 0;
  let rotations = 0;
  let gzipped = 0;
  let owed = 0;
  let next = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> = Promise.resolve();
  let failure: Error | undefined;
  const background = new Set<Promise<void>>();

  const openLive = async (t: Target): Promise<void> => {
    t.fh = await open(join(t.dir, '0.log'), 'a');
    t.size = (await t.fh.stat()).size;
  };

  // kubelet keeps the newest rotated file uncompressed and gzips the older ones, then removes the
  // oldest so that at most containerLogMaxFiles files (0.log included) remain.
  const compressAndPrune = async (t: Target): Promise<void> => {
    const rotated = (await readdir(t.dir)).filter((n) => n.startsWith('0.log.')).sort();
    const plain = rotated.filter((n) => !n.endsWith('.gz'));
    for (const name of plain.slice(0, -1)) {
      const from = join(t.dir, name);
      const tmp = join(t.dir, `${name}.gz.tmp`);
      await pipeline(createReadStream(from), createGzip(), createWriteStream(tmp));
      await rename(tmp, join(t.dir, `${name}.gz`));
      await rm(from);
      gzipped++;
    }
    const all = (await readdir(t.dir)).filter((n) => n.startsWith('0.log.') && !n.endsWith('.tmp')).sort();
    for (const name of all.slice(0, Math.max(0, all.length - (keepFiles - 1)))) await rm(join(t.dir, name), { force: true });
  };

  const rotate = async (t: Target): Promise<void> => {
    const name = `0.log.${rotationSuffix(new Date())}`;
    // kubelet rotates a container at most once per check; two rotations in one second would collide
    if (name === t.lastRotationName) return;
    t.lastRotationName = name;
    await t.fh?.close();
    await rename(join(t.dir, '0.log'), join(t.dir, name));
    await openLive(t);
    rotations++;
    const p = compressAndPrune(t).catch((err: unknown) => {
      failure ??= err as Error;
    });
    background.add(p);
    void p.finally(() => background.delete(p));
  };

  const writeRecords = async (t: Target, n: number): Promise<void> => {
    const parts: string[] = [];
    for (let i = 0; i < n; i++) {
      const seq = ++t.count.records;
      const make = MESSAGES[seq % MESSAGES.length] ?? MESSAGES[0];
      const msg = `seq=${seq} ${make?.(t.count.container, seq) ?? ''}`;
      const stream = seq % 10 === 0 ? 'stderr' : 'stdout';
      if (seq % 25 === 0) {
        // a record the runtime split into a partial and a final line (as for lines over 16 KiB)
        const cut = Math.floor(msg.length / 2);
        parts.push(`${rfc3339Nano()} ${stream} P ${msg.slice(0, cut)}\n`, `${rfc3339Nano()} ${stream} F ${msg.slice(cut)}\n`);
        lines += 2;
      } else {
        parts.push(`${rfc3339Nano()} ${stream} F ${msg}\n`);
        lines += 1;
      }
    }
    const data = Buffer.from(parts.join(''));
    if (t.fh === undefined) return;
    await t.fh.write(data, 0, data.length);
    t.size += data.length;
    bytes += data.length;
    if (t.size >= rotateBytes) await rotate(t);
  };

  const tick = async (): Promise<void> => {
    owed += (options.rate * TICK_MS) / 1000;
    const n = Math.floor(owed);
    owed -= n;
    const per = new Map<Target, number>();
    for (let i = 0; i < n; i++) {
      const t = targets[next++ % targets.length];
      if (t !== undefined) per.set(t, (per.get(t) ?? 0) + 1);
    }
    for (const [t, k] of per) await writeRecords(t, k);
  };

  const stats = (): GeneratorStats => ({
    records: targets.reduce((a, t) => a + t.count.records, 0),
    lines,
    bytes,
    rotations,
    gzipped,
    containers: targets.map((t) => ({ ...t.count })),
  });

  return {
    async start() {
      for (const t of targets) {
        await mkdir(t.dir, { recursive: true });
        await openLive(t);
      }
      timer = setInterval(() => {
        running = running.then(tick).catch((err: unknown) => {
          failure ??= err as Error;
        });
      }, TICK_MS);
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      await running;
      await Promise.all(background);
      for (const t of targets) {
        await t.fh?.close();
        t.fh = undefined;
      }
      if (failure !== undefined) throw failure;
      return stats();
    },
    stats,
  };
}
