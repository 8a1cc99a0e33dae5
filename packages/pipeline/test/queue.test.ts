import { test } from 'node:test';
import { mkdtemp, readdir, rm, stat, appendFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskQueue, diskQueueSegmentBytes, isSextantError } from '../src/index.ts';
import type { TestContext } from 'node:test';
import { defer } from './fixtures/defer.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-queue-'));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  return dir;
}
const bytes = (n: number, fill = 1): Uint8Array => new Uint8Array(n).fill(fill);

void test('items come back in order with payload and meta; ack removes them', async (t: TestContext) => {
  const q = await createDiskQueue({ dir: await tempDir(t), maxBytes: 1 << 20 });
  defer(t, () => q.close());
  const rs = await Promise.all([1, 2, 3].map((i) => q.enqueue({ signal: 'logs', payload: bytes(10, i), meta: { source: `s${i}` } })));
  t.assert.deepEqual(rs.map((r) => r.kind), ['ok', 'ok', 'ok']);
  t.assert.equal(q.stats().depth, 3);
  const items = await q.lease(10);
  t.assert.deepEqual(items.map((i) => i.meta), [{ source: 's1' }, { source: 's2' }, { source: 's3' }]);
  t.assert.deepEqual([...(items[1]?.payload ?? [])], Array(10).fill(2));
  for (const i of items) q.ack(i.id);
  t.assert.equal(q.stats().depth, 0);
  t.assert.equal(q.stats().bytes, 0);
});

void test('concurrent enqueues share group commits and all resolve', async (t: TestContext) => {
  const q = await createDiskQueue({ dir: await tempDir(t), maxBytes: 64 << 20 });
  defer(t, () => q.close());
  const rs = await Promise.all(Array.from({ length: 500 }, (_, i) => q.enqueue({ signal: 'traces', payload: bytes(1000, i % 256) })));
  const ids = rs.map((r) => (r.kind === 'ok' ? r.id : -1));
  t.assert.equal(new Set(ids).size, 500);
  t.assert.deepEqual(ids, [...ids].sort((a, b) => a - b));
  t.assert.ok(q.stats().commits < 100, `500 concurrent enqueues took ${q.stats().commits} fdatasyncs`);
});

void test('nacked and unacked items are redelivered; unacked survive close and reopen', async (t: TestContext) => {
  const dir = await tempDir(t);
  let q = await createDiskQueue({ dir, maxBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) await q.enqueue({ signal: 'logs', payload: bytes(100, i) });
  const [a, b] = await q.lease(2);
  t.assert.ok(a !== undefined && b !== undefined);
  q.ack(a.id);
  q.nack(b.id);
  const again = await q.next();
  t.assert.equal(again?.id, b.id, 'a nacked item comes back before newer ones');
  t.assert.equal(again?.deliveries, 2);
  await q.close();
  q = await createDiskQueue({ dir, maxBytes: 1 << 20 });
  defer(t, () => q.close());
  t.assert.equal(q.stats().depth, 4);
  const items = await q.lease(10);
  t.assert.deepEqual(items.map((i) => i.payload[0]), [1, 2, 3, 4]);
});

void test('a full queue answers a typed full result with a retry hint and stores nothing', async (t: TestContext) => {
  const q = await createDiskQueue({ dir: await tempDir(t), maxBytes: 100_000, segmentBytes: 30_000, fullRetryAfterMs: 2500 });
  defer(t, () => q.close());
  let full;
  for (let i = 0; i < 50; i++) {
    const r = await q.enqueue({ signal: 'logs', payload: bytes(9000) });
    if (r.kind === 'full') {
      full = r;
      break;
    }
  }
  t.assert.ok(full !== undefined && full.kind === 'full');
  t.assert.equal(full.retryAfterMs, 2500);
  t.assert.equal(full.error.code, 'SEXTANT_PIPELINE_QUEUE_FULL');
  t.assert.equal(full.error.status, 429);
  t.assert.ok(q.stats().diskBytes <= 100_000);
  t.assert.equal(q.stats().fullRejections, 1);
  await t.assert.rejects(q.enqueue({ signal: 'logs', payload: bytes(200_000) }), (e: unknown) => isSextantError(e, 'SEXTANT_PIPELINE_QUEUE_ITEM_TOO_LARGE'));
});

void test('disk use stays under maxBytes and acked space is reclaimed', async (t: TestContext) => {
  const dir = await tempDir(t);
  const q = await createDiskQueue({ dir, maxBytes: 200_000, segmentBytes: 40_000 });
  defer(t, () => q.close());
  let stored = 0;
  for (let round = 0; round < 10; round++) {
    for (;;) {
      const r = await q.enqueue({ signal: 'logs', payload: bytes(5000, round) });
      if (r.kind === 'full') break;
      stored++;
      t.assert.ok((await diskQueueSegmentBytes(dir)) <= 200_000);
    }
    for (const it of await q.lease(1000)) q.ack(it.id);
  }
  // 10 fills of ~190 KB went through a 200 KB bound: only possible if acked segments were deleted.
  t.assert.ok(stored > 10 * 30, `stored ${stored}`);
  t.assert.ok((await readdir(join(dir, 'segments'))).length <= 6);
});

void test('dead letters are stored, counted, listable, readable, and bounded with a counted drop', async (t: TestContext) => {
  const dir = await tempDir(t);
  let q = await createDiskQueue({ dir, maxBytes: 1 << 20, deadLetterMaxBytes: 2500 });
  for (let i = 0; i < 3; i++) await q.enqueue({ signal: 'metrics', payload: bytes(1000, i), meta: { source: 'x' } });
  const items = await q.lease(3);
  const results = [];
  for (const it of items) results.push(await q.deadLetter(it.id, 'http 400: bad request'));
  t.assert.deepEqual(results.map((r) => r.kind), ['stored', 'stored', 'dropped']);
  const s = q.stats();
  t.assert.equal(s.depth, 0);
  t.assert.equal(s.deadLetter.count, 2);
  t.assert.equal(s.deadLetter.dropped, 1);
  t.assert.ok(s.deadLetter.bytes <= 2500);
  await q.close();
  q = await createDiskQueue({ dir, maxBytes: 1 << 20, deadLetterMaxBytes: 2500 });
  defer(t, () => q.close());
  t.assert.equal(q.stats().depth, 0, 'dead-lettered items are not redelivered');
  t.assert.equal(q.stats().deadLetter.dropped, 1, 'the drop count survives a restart');
  const list = q.deadLetters.list();
  t.assert.deepEqual(list.map((d) => [d.signal, d.reason]), [['metrics', 'http 400: bad request'], ['metrics', 'http 400: bad request']]);
  const first = list[0];
  t.assert.ok(first !== undefined);
  const dl = await q.deadLetters.read(first.id);
  t.assert.deepEqual([...(dl?.payload ?? [])], Array(1000).fill(0));
  t.assert.deepEqual(dl?.meta, { source: 'x' });
  t.assert.equal(await q.deadLetters.remove(first.id), true);
  t.assert.equal(q.stats().deadLetter.count, 1);
});

void test('a torn tail (partial frame) is cut on open; whole items before it survive', async (t: TestContext) => {
  const dir = await tempDir(t);
  let q = await createDiskQueue({ dir, maxBytes: 1 << 20 });
  await q.enqueue({ signal: 'logs', payload: bytes(500, 7) });
  await q.enqueue({ signal: 'logs', payload: bytes(500, 8) });
  await q.close();
  const [seg] = await readdir(join(dir, 'segments'));
  t.assert.ok(seg !== undefined);
  const path = join(dir, 'segments', seg);
  const before = (await stat(path)).size;
  // A crash mid-write: a header promising 4000 bytes, followed by 100.
  const torn = Buffer.alloc(108);
  torn.writeUInt32LE(4000, 0);
  await appendFile(path, torn);
  q = await createDiskQueue({ dir, maxBytes: 1 << 20 });
  defer(t, () => q.close());
  t.assert.equal(q.stats().depth, 2);
  t.assert.equal(q.stats().recoveredTruncatedBytes, 108);
  t.assert.equal((await stat(path)).size, before);
  const r = await q.enqueue({ signal: 'logs', payload: bytes(10, 9) });
  t.assert.equal(r.kind, 'ok');
  t.assert.deepEqual((await q.lease(5)).map((i) => i.payload[0]), [7, 8, 9]);
});

void test('lease waits for the next enqueue and returns [] on close or abort', async (t: TestContext) => {
  const q = await createDiskQueue({ dir: await tempDir(t), maxBytes: 1 << 20 });
  const waiting = q.lease(1);
  await q.enqueue({ signal: 'logs', payload: bytes(1) });
  t.assert.equal((await waiting).length, 1);
  const ac = new AbortController();
  const aborted = q.lease(1, ac.signal);
  ac.abort();
  t.assert.deepEqual(await aborted, []);
  const pending = q.lease(1);
  await q.close();
  t.assert.deepEqual(await pending, []);
  await t.assert.rejects(q.enqueue({ signal: 'logs', payload: bytes(1) }), (e: unknown) => isSextantError(e, 'SEXTANT_PIPELINE_QUEUE_CLOSED'));
});

void test('an ack checkpoint written while a commit is in flight does not hide that commit after a crash', async (t: TestContext) => {
  const dir = await tempDir(t);
  // A process that "dies": it is never closed before the directory is reopened (files stay as kill -9 leaves them).
  const dying = await createDiskQueue({ dir, maxBytes: 1 << 20, checkpointIntervalMs: 1 });
  defer(t, () => dying.close());
  let lastId = 0;
  for (let round = 0; round < 20; round++) {
    await dying.enqueue({ signal: 'logs', payload: bytes(10) });
    for (const it of await dying.lease(10)) dying.ack(it.id); // queue empty, acks dirty
    const r = await dying.enqueue({ signal: 'logs', payload: bytes(64 * 1024, round) }); // checkpoint ticks meanwhile
    t.assert.equal(r.kind, 'ok');
    lastId = r.kind === 'ok' ? r.id : -1;
    await new Promise((res) => setTimeout(res, 3));
    const after = await createDiskQueue({ dir, maxBytes: 1 << 20 });
    const items = after.stats().depth === 0 ? [] : await after.lease(10);
    await after.close();
    // Acked items may come back (acks are persisted lazily); the resolved one must.
    t.assert.ok(items.some((i) => i.id === lastId), `round ${round}: the resolved item ${lastId} must survive`);
    for (const it of await dying.lease(10)) dying.ack(it.id);
  }
});

void test('a recycled segment file never resurrects the frames of its previous life', async (t: TestContext) => {
  const dir = await tempDir(t);
  const q = await createDiskQueue({ dir, maxBytes: 1 << 20, segmentBytes: 20_000 });
  defer(t, () => q.close());
  // Life 1: fill several segments with 0xAA items, then ack them all; one file becomes the spare.
  for (let i = 0; i < 12; i++) await q.enqueue({ signal: 'logs', payload: bytes(4000, 0xaa) });
  for (const it of await q.lease(100)) q.ack(it.id);
  await q.enqueue({ signal: 'logs', payload: bytes(10, 0xbb) }); // rolls over; older segments reclaimed
  for (const it of await q.lease(100)) q.ack(it.id);
  for (let i = 0; i < 6; i++) await q.enqueue({ signal: 'logs', payload: bytes(4000, 0xcc) });
  await new Promise((r) => setTimeout(r, 50)); // let the background reclaim run
  const names = await readdir(join(dir, 'segments'));
  t.assert.ok(names.length <= 4, `segments: ${names.join(', ')}`);
  // Life 2 wrote fewer bytes than the file held: old 0xAA frames sit past the logical end.
  // A crash now (no close) and a reopen must show exactly the 0xCC items.
  const again = await createDiskQueue({ dir, maxBytes: 1 << 20, segmentBytes: 20_000 });
  const items = again.stats().depth === 0 ? [] : await again.lease(100);
  const cut = again.stats().recoveredTruncatedBytes;
  await again.close();
  t.assert.deepEqual(items.map((i) => [i.payload.length, i.payload[0]]), Array(6).fill([4000, 0xcc]));
  t.assert.ok(cut > 0, 'the old frames past the logical end were recognised and cut');
});

void test('an item enqueued in parts is leased as their concatenation, from memory and after reopening', async (t) => {
  const dir = await tempDir(t);
  const parts = [Buffer.from('head-'), Buffer.alloc(5000, 0x61), Buffer.from('-tail')];
  const whole = Buffer.concat(parts);
  let q = await createDiskQueue({ dir, maxBytes: 8 * 1024 * 1024 });
  t.assert.equal((await q.enqueue({ signal: 'logs', payload: parts })).kind, 'ok');
  t.assert.equal((await q.enqueue({ signal: 'logs', payload: [whole] })).kind, 'ok');
  const [a, b] = await q.lease(2);
  t.assert.equal(a !== undefined && b !== undefined, true);
  t.assert.deepEqual(Buffer.concat(a?.parts ?? []), whole, 'the parts are the ranges as enqueued');
  t.assert.deepEqual(Buffer.from(a?.payload ?? []), whole);
  t.assert.equal(b?.parts, undefined, 'a one-part item is a plain payload');
  t.assert.deepEqual(Buffer.from(b?.payload ?? []), whole);
  await q.close();
  // The crc covers the parts: both frames are read back whole, with the same bytes.
  q = await createDiskQueue({ dir, maxBytes: 8 * 1024 * 1024 });
  try {
    const again = await q.lease(2);
    t.assert.equal(again.length, 2);
    for (const item of again) t.assert.deepEqual(Buffer.from(item.payload), whole);
    t.assert.equal(q.stats().recoveredTruncatedBytes, 0);
  } finally {
    await q.close();
  }
});
