// Node-collector throughput, printed as lines per CPU-second of the collector (LESSONS.md "Performance": on the
// same kind of data the OTel Collector does about 75k and Fluent Bit about 260k 200-byte CRI lines per CPU-second).
//   1. parse only: FileParser over 256 KiB chunks of generated CRI lines (every 5th split P/F);
//   2. end to end: files written beforehand → collector (this process) → OTLP/HTTP zstd → sink (another process).
// Usage: node bench/collector/run.ts [lines per file=250000] [files=4] [compression=zstd]
import { spawn } from 'node:child_process';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileParser, createNodeCollector } from '@sextant/node-collector';

const LINES = Number(process.argv[2] ?? 250000);
const FILES = Number(process.argv[3] ?? 4);
const COMPRESSION = (process.argv[4] ?? 'zstd') as 'zstd' | 'gzip' | 'none';

function generate(n: number, seed: number): Buffer {
  const parts: string[] = [];
  const pad = 'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore et dolore magna aliqua ';
  for (let i = 0; i < n; i++) {
    const ts = `2026-11-24T06:${String(Math.floor(i / 60000) % 60).padStart(2, '0')}:${String(Math.floor(i / 1000) % 60).padStart(2, '0')}.${String(i % 1e9).padStart(9, '0')}Z`;
    const stream = i % 3 === 0 ? 'stderr' : 'stdout';
    const msg = `${seed}:${i} level=info msg="request handled" path=/api/v1/items/${i % 997} ${pad}`.slice(0, 200 - ts.length - 10);
    if (i % 5 === 0) parts.push(`${ts} ${stream} P ${msg.slice(0, 60)}\n${ts} ${stream} F ${msg.slice(60)}\n`);
    else parts.push(`${ts} ${stream} F ${msg}\n`);
  }
  return Buffer.from(parts.join(''));
}

function cpuSeconds(since: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

async function parseOnly(data: Buffer, lines: number): Promise<void> {
  const hooks = { onTruncated: () => undefined, onSkippedBytes: () => undefined, onParseError: () => undefined, onInvalidUtf8: () => undefined };
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const p = new FileParser({ maxRecordBytes: 1 << 20, hooks });
    let records = 0;
    let bytes = 0;
    const chunk = Buffer.allocUnsafe(256 * 1024);
    const cpu = process.cpuUsage();
    for (let off = 0; off < data.length; off += chunk.length) {
      const n = data.copy(chunk, 0, off, Math.min(off + chunk.length, data.length));
      p.push(chunk, n, off, 0n, (r) => {
        records++;
        bytes += r.body.length;
      });
    }
    const s = cpuSeconds(cpu);
    best = Math.max(best, lines / s);
    if (round === 2) console.log(`parse only: ${records} records, ${(bytes / 1e6).toFixed(1)} MB of bodies; best ${Math.round(best).toLocaleString()} lines per CPU-second`);
  }
  await Promise.resolve();
}

async function endToEnd(files: Buffer[], linesPerFile: number): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), 'nc-bench-root-'));
  const ckpt = await mkdtemp(join(tmpdir(), 'nc-bench-ckpt-'));
  const sink = spawn(process.execPath, [fileURLToPath(new URL('./sink.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const port = await new Promise<number>((resolve) => sink.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim()))));
    for (let i = 0; i < files.length; i++) {
      const dir = join(root, `bench_pod-${i}_uid-${i}`, 'app');
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, '0.log'), files[i] ?? Buffer.alloc(0));
    }
    const total = linesPerFile * files.length;
    const rssBefore = process.memoryUsage().rss;
    const c = createNodeCollector({ logRoot: root, checkpointDir: ckpt, endpoints: [`127.0.0.1:${port}`], server: false, compression: COMPRESSION, nodeName: 'bench' });
    const cpu = process.cpuUsage();
    const t0 = performance.now();
    await c.start();
    let got = 0;
    let rssPeak = 0;
    while (got < total) {
      await new Promise((r) => setTimeout(r, 50));
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
      got = ((await (await fetch(`http://127.0.0.1:${port}/count`)).json()) as { records: number }).records;
    }
    const wall = (performance.now() - t0) / 1000;
    const cpuS = cpuSeconds(cpu);
    await c.shutdown();
    const mb = files.reduce((a, f) => a + f.length, 0) / 1e6;
    console.log(
      `end to end (${COMPRESSION}): ${total.toLocaleString()} lines (${mb.toFixed(0)} MB) in ${wall.toFixed(2)} s wall, ` +
        `${cpuS.toFixed(2)} collector CPU-s → ${Math.round(total / cpuS).toLocaleString()} lines per CPU-second, ` +
        `${Math.round(total / wall).toLocaleString()} lines/s; rss ${(rssBefore / 1e6).toFixed(0)} MB before the collector, ${(rssPeak / 1e6).toFixed(0)} MB peak`,
    );
  } finally {
    sink.kill();
    await rm(root, { recursive: true, force: true });
    await rm(ckpt, { recursive: true, force: true });
  }
}

const files = Array.from({ length: FILES }, (_, i) => generate(LINES, i));
// P/F pairs count as one line each
const logical = LINES;
await parseOnly(files[0] ?? Buffer.alloc(0), logical);
await endToEnd(files, logical);
