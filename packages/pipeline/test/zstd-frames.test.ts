import { test } from 'node:test';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { constants as zc, zstdCompressSync } from 'node:zlib';
import { readOtlpBody, walkZstdFrames } from '../src/index.ts';
import type { IngestLimits, OtlpBodyResult } from '../src/index.ts';

const MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const LIMITS: IngestLimits = { maxBodyBytes: 1024 * 1024, maxDecodedBytes: 256 * 1024 };

function blockHeader(last: boolean, type: number, size: number): Buffer {
  const v = (size << 3) | (type << 1) | (last ? 1 : 0);
  return Buffer.from([v & 0xff, (v >> 8) & 0xff, (v >> 16) & 0xff]);
}

/** A hand-made single-segment frame with a 4-byte Frame_Content_Size and the given blocks. */
function frame(contentSize: number, blocks: Buffer[], fhdExtra = 0, dict?: number): Buffer {
  const fhd = 0x80 | 0x20 | fhdExtra | (dict === undefined ? 0 : 1);
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(contentSize);
  return Buffer.concat([MAGIC, Buffer.from([fhd]), dict === undefined ? Buffer.alloc(0) : Buffer.from([dict]), fcs, ...blocks]);
}

const rawBlock = (data: Buffer, last = true): Buffer => Buffer.concat([blockHeader(last, 0, data.length), data]);
const rleBlock = (byte: number, n: number, last = true): Buffer => Buffer.concat([blockHeader(last, 1, n), Buffer.from([byte])]);

function read(body: Buffer, limits = LIMITS): Promise<OtlpBodyResult> {
  return readOtlpBody(Readable.from([body]), { 'content-type': 'application/x-protobuf', 'content-encoding': 'zstd' }, limits);
}

void test('the walker finds raw, RLE and compressed blocks, checksums and skippable frames', (t) => {
  const a = frame(5, [rawBlock(Buffer.from('hello'))]);
  const b = frame(1000, [rleBlock(0x61, 600, false), rleBlock(0x62, 400)]);
  const c = zstdCompressSync(Buffer.from('abc'.repeat(5000)), { params: { [zc.ZSTD_c_checksumFlag]: 1 } });
  const skip = Buffer.concat([Buffer.from([0x53, 0x2a, 0x4d, 0x18]), Buffer.from([3, 0, 0, 0]), Buffer.from('xyz')]);
  const all = Buffer.concat([a, b, skip, c]);
  const walk = walkZstdFrames(all);
  t.assert.equal(walk.kind, 'ok');
  if (walk.kind !== 'ok') return;
  t.assert.deepEqual(
    walk.frames.map((f) => [f.start, f.end, f.contentSize]),
    [
      [0, a.length, 5],
      [a.length, a.length + b.length, 1000],
      [a.length + b.length + skip.length, all.length, 15000],
    ],
  );
  t.assert.equal(walk.skippable, 1);
  t.assert.equal((c[4] as number) & 0x04, 0x04, 'the compressed frame carries a checksum');
});

void test('a body of several frames decodes to all of them, with each frame spanned', async (t) => {
  const a = frame(5, [rawBlock(Buffer.from('hello'))]);
  const b = frame(1000, [rleBlock(0x61, 600, false), rleBlock(0x62, 400)]);
  const c = zstdCompressSync(Buffer.from('abc'.repeat(5000)), { pledgedSrcSize: 15000 });
  const r = await read(Buffer.concat([a, b, c]));
  t.assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  // each frame's own output, read before (and without) the joined body
  t.assert.deepEqual(
    r.frames?.map((f) => f.decoded.toString()),
    ['hello', 'a'.repeat(600) + 'b'.repeat(400), 'abc'.repeat(5000)],
  );
  t.assert.equal(r.decodedBytes, 16005);
  t.assert.equal(r.body.toString(), 'hello' + 'a'.repeat(600) + 'b'.repeat(400) + 'abc'.repeat(5000));
  t.assert.equal(r.body, r.body, 'joined once');
  t.assert.deepEqual(
    r.frames?.map((f) => [f.start, f.end, f.wire.length]),
    [
      [0, 5, a.length],
      [5, 1005, b.length],
      [1005, 16005, c.length],
    ],
  );
});

void test('a skippable frame is passed over; the body decodes but is not spanned', async (t) => {
  const skip = Buffer.concat([Buffer.from([0x50, 0x2a, 0x4d, 0x18]), Buffer.from([2, 0, 0, 0]), Buffer.from('zz')]);
  const r = await read(Buffer.concat([frame(2, [rawBlock(Buffer.from('ok'))]), skip, frame(1, [rawBlock(Buffer.from('!'))])]));
  t.assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok') return;
  t.assert.equal(r.body.toString(), 'ok!');
  t.assert.equal(r.frames, undefined);
});

void test('truncated frames, reserved bits and dictionaries are a 400', async (t) => {
  const good = frame(5, [rawBlock(Buffer.from('hello'))]);
  const cases: Array<[string, Buffer]> = [
    ['truncated block', good.subarray(0, good.length - 1)],
    ['truncated header', good.subarray(0, 6)],
    ['second frame truncated', Buffer.concat([good, good.subarray(0, 9)])],
    ['reserved bit', frame(5, [rawBlock(Buffer.from('hello'))], 0x08)],
    ['dictionary', frame(5, [rawBlock(Buffer.from('hello'))], 0, 7)],
    ['garbage', Buffer.from('not zstd at all')],
  ];
  for (const [name, body] of cases) {
    const r = await read(body);
    t.assert.equal(r.kind, 'rejected', name);
    if (r.kind === 'rejected') t.assert.equal(r.statusCode, 400, name);
  }
});

void test('a frame whose declared content size lies is a 400, and a declared size over the limit a 413 before inflating', async (t) => {
  // Declares 10 bytes, holds 100,000 (RLE): inflating stops at the declared size.
  const lying = frame(10, [rleBlock(0x41, 100_000)]);
  const r1 = await read(Buffer.concat([frame(2, [rawBlock(Buffer.from('ok'))]), lying]));
  t.assert.equal(r1.kind, 'rejected');
  if (r1.kind === 'rejected') t.assert.equal(r1.statusCode, 400);
  // Declares less than it holds after a real compressor: the decoder refuses it too.
  const real = Buffer.from(zstdCompressSync(Buffer.from('x'.repeat(50_000)), { pledgedSrcSize: 50_000 }));
  t.assert.equal((real[4] as number) & 0xe0, 0x60, 'a single-segment frame with a 2-byte content size');
  real.writeUInt16LE(40_000 - 256, 5);
  const r2 = await read(real);
  t.assert.equal(r2.kind, 'rejected');
  if (r2.kind === 'rejected') t.assert.equal(r2.statusCode, 400);
  // Declares 4 GB: refused from the header, nothing is inflated.
  const huge = frame(0xffffffff, [rleBlock(0x41, 10)]);
  const before = process.memoryUsage().arrayBuffers;
  const r3 = await read(Buffer.concat([frame(2, [rawBlock(Buffer.from('ok'))]), huge]));
  t.assert.equal(r3.kind, 'rejected');
  if (r3.kind === 'rejected') t.assert.equal(r3.statusCode, 413);
  t.assert.equal(process.memoryUsage().arrayBuffers - before < 8 * 1024 * 1024, true, 'nothing large was allocated');
});

void test('a body of more frames than any client sends is a 400 without inflating them', async (t) => {
  const tiny = frame(1, [rawBlock(Buffer.from('x'))]);
  const r = await read(Buffer.concat(Array.from({ length: 8193 }, () => tiny)));
  t.assert.equal(r.kind, 'rejected');
  if (r.kind === 'rejected') t.assert.equal(r.statusCode, 400);
  const ok = await read(Buffer.concat(Array.from({ length: 100 }, () => tiny)));
  t.assert.equal(ok.kind === 'ok' ? ok.body.toString() : '', 'x'.repeat(100));
});

void test('release() frees the large decoded frames at once and leaves small ones (which may share the Buffer pool) alone', async (t) => {
  const small = zstdCompressSync(Buffer.from('head'), { pledgedSrcSize: 4 });
  // one large frame that inflates synchronously (small on the wire), one on the thread pool (incompressible)
  const text = Buffer.from('record '.repeat(20_000));
  const noise = randomBytes(100_000);
  const frames = [small, zstdCompressSync(text, { pledgedSrcSize: text.length }), zstdCompressSync(noise, { pledgedSrcSize: noise.length })];
  t.assert.equal((frames[2] as Buffer).length > 32 * 1024, true, 'the third frame takes the async path');
  const neighbour = Buffer.from('a pooled neighbour'); // a slice of the shared pool, as the small frame's output may be
  const r = await read(Buffer.concat(frames));
  t.assert.equal(r.kind, 'ok');
  if (r.kind !== 'ok' || r.frames === undefined || r.release === undefined) throw new Error('expected a framed body with release()');
  const [head, mid, tail] = r.frames;
  t.assert.equal(mid?.decoded.equals(text), true);
  t.assert.equal(tail?.decoded.equals(noise), true);
  r.release();
  for (const f of [mid, tail]) {
    t.assert.equal((f?.decoded.buffer as ArrayBuffer | undefined)?.detached, true, 'a large frame is freed');
    t.assert.equal(f?.decoded.length, 0);
  }
  t.assert.equal(head?.decoded.toString(), 'head', 'the small frame is untouched');
  t.assert.equal(neighbour.toString(), 'a pooled neighbour');
  t.assert.equal(r.decodedBytes, 4 + text.length + noise.length, 'sizes stay known');
});
