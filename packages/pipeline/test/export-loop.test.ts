import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskQueue, createExportLoop, createMetrics, createOtlpHttpExporter, createRetryPolicy } from '../src/index.ts';
import type { Queue } from '../src/index.ts';
import { defer } from './fixtures/defer.ts';

async function server(t: TestContext, handler: (body: string, res: ServerResponse) => void): Promise<string> {
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => handler(Buffer.concat(chunks).toString(), res));
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  defer(t, () => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));
  return `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
}

async function queue(t: TestContext, dir?: string): Promise<{ q: Queue; dir: string }> {
  const d = dir ?? await mkdtemp(join(tmpdir(), 'sextant-loop-'));
  if (dir === undefined) defer(t, () => rm(d, { recursive: true, force: true }));
  const q = await createDiskQueue({ dir: d, maxBytes: 8 << 20 });
  defer(t, () => q.close());
  return { q, dir: d };
}

const retry = createRetryPolicy({ initialMs: 5, maxMs: 20 });

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}

void test('503s are retried until the backend accepts; everything is acked and counted', async (t: TestContext) => {
  let n = 0;
  const got: string[] = [];
  const url = await server(t, (body, res) => {
    if (n++ < 2) {
      res.writeHead(503, { 'retry-after': '0' }).end();
      return;
    }
    got.push(body);
    res.writeHead(200).end();
  });
  const { q } = await queue(t);
  const metrics = createMetrics('test', { defaultMetrics: false });
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry, concurrency: 2, metrics });
  for (let i = 0; i < 5; i++) await q.enqueue({ signal: 'logs', payload: Buffer.from(`item-${i}`) });
  await loop.start();
  await until(() => loop.stats().ok === 5);
  await loop.shutdown();
  t.assert.deepEqual(got.sort(), ['item-0', 'item-1', 'item-2', 'item-3', 'item-4']);
  t.assert.equal(q.stats().depth, 0);
  t.assert.equal(loop.stats().retries, 2);
  const text = await metrics.text();
  t.assert.match(text, /sextant_test_export_items_total\{signal="logs",outcome="ok"\} 5/);
  t.assert.match(text, /sextant_test_export_retries_total\{signal="logs"\} 2/);
});

void test('a permanent 400 dead-letters that item only; the rest are delivered', async (t: TestContext) => {
  const url = await server(t, (body, res) => res.writeHead(body === 'bad' ? 400 : 200).end(body === 'bad' ? 'cannot parse' : ''));
  const { q } = await queue(t);
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry });
  for (const p of ['a', 'bad', 'c']) await q.enqueue({ signal: 'metrics', payload: Buffer.from(p) });
  await loop.start();
  await until(() => loop.stats().ok + loop.stats().deadLettered === 3);
  await loop.shutdown();
  t.assert.equal(loop.stats().deadLettered, 1);
  const [dl] = q.deadLetters.list();
  t.assert.match(dl?.reason ?? '', /HTTP 400: cannot parse/);
  t.assert.equal((await q.deadLetters.read(dl?.id ?? -1))?.payload.toString(), 'bad');
});

void test('items of one source arrive in queue order even with concurrency and retries', async (t: TestContext) => {
  const arrived: string[] = [];
  let k = 0;
  const url = await server(t, (body, res) => {
    const fail = k++ % 3 === 1;
    setTimeout(() => {
      if (!fail) arrived.push(body);
      res.writeHead(fail ? 503 : 200).end();
    }, Math.floor(Math.random() * 8));
  });
  const { q } = await queue(t);
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry, concurrency: 4 });
  const sources = ['a', 'b', 'c'];
  for (let i = 0; i < 30; i++) {
    const source = sources[i % 3] ?? 'a';
    await q.enqueue({ signal: 'logs', payload: Buffer.from(`${source}:${i}`), meta: { source } });
  }
  await loop.start();
  await until(() => loop.stats().ok === 30);
  await loop.shutdown();
  for (const s of sources) {
    const seq = arrived.filter((a) => a.startsWith(`${s}:`)).map((a) => Number(a.split(':')[1]));
    t.assert.deepEqual(seq, [...seq].sort((x, y) => x - y), `source ${s} out of order: ${seq.join(',')}`);
    t.assert.equal(seq.length, 10);
  }
});

void test('during an outage nothing is dropped: shutdown returns the items and a restart redelivers them', async (t: TestContext) => {
  let calls = 0;
  const url = await server(t, (_b, res) => {
    calls++;
    res.writeHead(503).end();
  });
  const { q, dir } = await queue(t);
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry, concurrency: 2 });
  for (let i = 0; i < 4; i++) await q.enqueue({ signal: 'traces', payload: Buffer.from(`t${i}`) });
  await loop.start();
  await until(() => calls >= 6);
  await loop.shutdown();
  t.assert.equal(q.stats().depth, 4);
  t.assert.equal(q.stats().leased, 0);
  t.assert.equal(q.stats().deadLetter.count, 0);
  await q.close();
  const again = await createDiskQueue({ dir, maxBytes: 8 << 20 });
  defer(t, () => again.close());
  t.assert.deepEqual((await again.lease(10)).map((i) => i.payload.toString()), ['t0', 't1', 't2', 't3']);
});

void test('drainOnShutdownMs: what is enqueued as shutdown begins still reaches the backend; during an outage shutdown gives up at the deadline', async (t: TestContext) => {
  const got: string[] = [];
  let down = false;
  const url = await server(t, (b, res) => {
    if (down) {
      res.writeHead(503).end();
      return;
    }
    got.push(b);
    res.writeHead(200).end();
  });
  const { q } = await queue(t);
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry, drainOnShutdownMs: 2000 });
  await loop.start();
  // a source's last batch, enqueued just before the service stops its export loop
  for (let i = 0; i < 3; i++) await q.enqueue({ signal: 'logs', payload: Buffer.from(`last${i}`) });
  await loop.shutdown();
  t.assert.deepEqual(got.sort(), ['last0', 'last1', 'last2']);
  t.assert.equal(q.stats().depth, 0);

  down = true;
  const { q: q2 } = await queue(t);
  const loop2 = createExportLoop({ queue: q2, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry, drainOnShutdownMs: 300 });
  await loop2.start();
  await q2.enqueue({ signal: 'logs', payload: Buffer.from('stuck') });
  const t0 = Date.now();
  await loop2.shutdown();
  t.assert.equal(Date.now() - t0 >= 290, true, 'waited for the drain deadline');
  t.assert.equal(q2.stats().depth, 1, 'the item stays queued for the next start');
  t.assert.equal(q2.stats().leased, 0);
});

void test('maxElapsedMs turns endless retries into a counted dead letter', async (t: TestContext) => {
  const url = await server(t, (_b, res) => res.writeHead(503).end());
  const { q } = await queue(t);
  const loop = createExportLoop({ queue: q, exporter: createOtlpHttpExporter({ endpoint: url, compression: 'none' }), retry: createRetryPolicy({ initialMs: 5, maxMs: 10, maxElapsedMs: 50 }) });
  await q.enqueue({ signal: 'logs', payload: Buffer.from('x') });
  await loop.start();
  await until(() => loop.stats().deadLettered === 1);
  await loop.shutdown();
  t.assert.match(q.deadLetters.list()[0]?.reason ?? '', /SEXTANT_PIPELINE_EXPORT_RETRY_EXPIRED/);
});

void test('retry policy: full jitter under a growing ceiling, never below Retry-After', (t: TestContext) => {
  const hi = createRetryPolicy({ initialMs: 100, maxMs: 1000, random: () => 0.999999 });
  t.assert.deepEqual([1, 2, 3, 4, 5].map((a) => hi.delayMs(a)), [100, 200, 400, 800, 1000]);
  const lo = createRetryPolicy({ initialMs: 100, maxMs: 1000, random: () => 0 });
  t.assert.equal(lo.delayMs(3), 0);
  t.assert.equal(lo.delayMs(3, 7000), 7000);
  t.assert.equal(createRetryPolicy({ maxRetryAfterMs: 60_000 }).delayMs(1, 86_400_000) <= 60_000, true);
  t.assert.throws(() => createRetryPolicy({ multiplier: 0.5 }), /multiplier >= 1/);
});
