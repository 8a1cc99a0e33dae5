// Enqueue throughput of the durable queue candidates: the segment log with group commit + fdatasync
// (packages/pipeline, the one in use) and node:sqlite in WAL mode with synchronous=FULL.
// 26 KB items (a 100-record OTLP/HTTP body, ARCHITECTURE.md "Where the time goes"), N concurrent producers.
// Two modes: enqueue only (the queue grows), and steady state with a consumer that reads and acks
// everything as it arrives (the log then reclaims and recycles segments; sqlite deletes rows).
// Usage: node bench/queue/run.ts [seconds per case, default 3] [dir, default os.tmpdir()]
// Prints a table; the figures go into packages/pipeline/src/queue.ts and packages/pipeline/README.md.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { randomBytes } from 'node:crypto';
import { createDiskQueue } from '../../packages/pipeline/src/index.ts';
import { createSqliteQueue } from './sqlite-queue.ts';

const seconds = Number(process.argv[2] ?? 3);
const base = process.argv[3] ?? tmpdir();
const ITEM = 26 * 1024;
const payloads = Array.from({ length: 64 }, () => randomBytes(ITEM));

type Enqueue = (i: number) => Promise<unknown>;

async function measure(enqueue: Enqueue, producers: number, consume?: (stop: () => boolean) => Promise<void>): Promise<{ items: number; secs: number; p99LoopMs: number; maxLoopMs: number }> {
  const h = monitorEventLoopDelay({ resolution: 1 });
  let items = 0;
  const end = performance.now() + seconds * 1000;
  const start = performance.now();
  h.enable();
  let done = false;
  const consumer = consume?.(() => done);
  await Promise.all(Array.from({ length: producers }, async (_, p) => {
    let i = p;
    while (performance.now() < end) {
      await enqueue(i++);
      items++;
    }
  }));
  done = true;
  await consumer;
  h.disable();
  return { items, secs: (performance.now() - start) / 1000, p99LoopMs: h.percentile(99) / 1e6, maxLoopMs: h.max / 1e6 };
}

const rows: string[] = [];
for (const mode of ['enqueue only', 'with consumer'] as const) {
  for (const producers of [4, 16, 64]) {
    for (const impl of ['segment-log', 'sqlite-wal'] as const) {
      const dir = await mkdtemp(join(base, `sextant-qbench-${impl}-`));
      let r;
      const payload = (i: number): Buffer => payloads[i % payloads.length] ?? Buffer.alloc(0);
      if (impl === 'segment-log') {
        const q = await createDiskQueue({ dir, maxBytes: mode === 'enqueue only' ? 64 * 1024 ** 3 : 1024 ** 3 });
        const ac = new AbortController();
        r = await measure(async (i) => {
          const res = await q.enqueue({ signal: 'logs', payload: payload(i), meta: { source: `s${i % 8}` } });
          if (res.kind !== 'ok') throw new Error('queue full');
        }, producers, mode === 'enqueue only' ? undefined : async (stop) => {
          const timer = setInterval(() => { if (stop()) ac.abort(); }, 50);
          while (!stop()) for (const it of await q.lease(64, ac.signal)) q.ack(it.id);
          clearInterval(timer);
        });
        await q.close();
      } else {
        const q = createSqliteQueue(dir);
        r = await measure((i) => q.enqueue({ signal: 'logs', payload: payload(i), meta: { source: `s${i % 8}` } }), producers,
          mode === 'enqueue only' ? undefined : async (stop) => {
            while (!stop()) {
              q.drain(64);
              await new Promise((res) => setImmediate(res));
            }
          });
        q.close();
      }
      await rm(dir, { recursive: true, force: true });
      const mbps = (r.items * ITEM) / r.secs / 1e6;
      rows.push(`| ${mode} | ${impl} | ${producers} | ${(r.items / r.secs).toFixed(0)} | ${mbps.toFixed(1)} | ${r.p99LoopMs.toFixed(1)} | ${r.maxLoopMs.toFixed(1)} |`);
      console.error(rows.at(-1));
    }
  }
}
console.log('| mode | store | producers | items/s | MB/s | event-loop delay p99 ms | max ms |');
console.log('|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
