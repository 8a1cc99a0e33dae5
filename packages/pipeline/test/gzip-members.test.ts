// gzip bodies whose members name their own length (the 'SX' extra subfield that @sextant/otlp
// encodeGzipFramedLogs writes) are read member by member; anything else is one gzip stream.
import { test } from 'node:test';
import { Readable } from 'node:stream';
import { crc32, gzipSync } from 'node:zlib';
import { readOtlpBody, walkGzipMembers } from '../src/index.ts';
import type { IngestLimits, OtlpBodyResult } from '../src/index.ts';

const LIMITS: IngestLimits = { maxBodyBytes: 1024 * 1024, maxDecodedBytes: 256 * 1024 };

/**
 * A gzip member of `data` with FEXTRA holding an 'SX' subfield of `sx` (default: the member's
 * true length) after an unrelated subfield, and `pad` extra bytes before the trailer's end is
 * reached (they stay inside the declared length).
 */
function member(data: Buffer, opts: { sx?: number; pad?: Buffer; isize?: number } = {}): Buffer {
  const plain = gzipSync(data, { level: 1 });
  const other = Buffer.from([0x41, 0x70, 2, 0, 0xaa, 0xbb]); // 'Ap', 2 bytes: readers skip it
  const sxField = Buffer.from([0x53, 0x58, 4, 0, 0, 0, 0, 0]);
  const extra = Buffer.concat([other, sxField]);
  const head = Buffer.from([0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, plain[8] as number, plain[9] as number, extra.length, 0]);
  const trailer = Buffer.from(plain.subarray(plain.length - 8));
  if (opts.isize !== undefined) trailer.writeUInt32LE(opts.isize, 4);
  const pad = opts.pad ?? Buffer.alloc(0);
  // padding between the deflate data and the trailer would break the deflate stream; it goes after
  // the real trailer, followed by a copy of the trailer, so the last 8 bytes still read right.
  const body = pad.length === 0 ? [plain.subarray(10, plain.length - 8), trailer] : [plain.subarray(10, plain.length - 8), trailer, pad, trailer];
  const out = Buffer.concat([head, extra, ...body]);
  out.writeUInt32LE(opts.sx ?? out.length, 12 + other.length + 4);
  return out;
}

function read(body: Buffer, limits = LIMITS): Promise<OtlpBodyResult> {
  return readOtlpBody(Readable.from([body]), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, limits);
}

function rejected(r: OtlpBodyResult): { status: number; message: string } {
  if (r.kind !== 'rejected') throw new Error('expected a rejection');
  return { status: r.statusCode, message: r.message };
}

void test('members naming their length are found, decoded one by one, and spanned', async (t) => {
  const parts = [Buffer.from('hello '), Buffer.from('abc'.repeat(20000)), Buffer.from(' and the rest')];
  const members = parts.map((p) => member(p));
  const body = Buffer.concat(members);
  const walk = walkGzipMembers(body);
  t.assert.equal(walk.kind, 'framed');
  const r = await read(body);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.message}`);
  t.assert.deepEqual(r.frames?.map((f) => f.decoded.toString()), parts.map((p) => p.toString()));
  t.assert.deepEqual(r.frames?.map((f) => f.wire.length), members.map((m) => m.length));
  t.assert.deepEqual(r.body, Buffer.concat(parts));
  t.assert.equal(r.decodedBytes, 60019);
});

void test('a body with any member that does not name its length is read as one stream, across members', async (t) => {
  const body = Buffer.concat([member(Buffer.from('one ')), gzipSync('two '), member(Buffer.from('three'))]);
  t.assert.equal(walkGzipMembers(body).kind, 'plain');
  const r = await read(body);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.message}`);
  t.assert.equal(r.frames, undefined);
  t.assert.equal(r.body.toString(), 'one two three');
});

void test('a member that does not end where it says is a 400: past the body, short of it, or padded with bytes other readers refuse', async (t) => {
  const good = member(Buffer.from('x'.repeat(5000)));
  const tooLong = member(Buffer.from('y'.repeat(100)), { sx: 10_000 });
  t.assert.match(rejected(await read(Buffer.concat([good, tooLong]))).message, /declares 10000 bytes/);
  // A length shorter than the member: the next "member" starts inside this one's deflate data.
  const short = member(Buffer.from('z'.repeat(5000)));
  short.writeUInt32LE(40, 12 + 6 + 4);
  t.assert.equal(rejected(await read(Buffer.concat([short, good]))).status, 400);
  // Zero bytes after a member's real end: node:zlib would pass over them, Go's gzip reader would not.
  const padded = member(Buffer.from('w'.repeat(5000)), { pad: Buffer.alloc(16) });
  const r = rejected(await read(Buffer.concat([good, padded])));
  t.assert.equal(r.status, 400);
  t.assert.match(r.message, /ends after/);
});

void test('a member whose trailer lies about its size is a 400; declared sizes over the limit are a 413 before inflating', async (t) => {
  const small = member(Buffer.from('q'.repeat(50_000)), { isize: 1000 });
  const r = rejected(await read(Buffer.concat([member(Buffer.from('a')), small])));
  t.assert.equal(r.status, 400);
  t.assert.match(r.message, /expands past its declared size of 1000/);
  const big = member(Buffer.alloc(200 * 1024));
  const over = rejected(await read(Buffer.concat([big, big])));
  t.assert.equal(over.status, 413);
  t.assert.match(over.message, /declares 409600 decoded bytes/);
});

void test('a gzip bomb in one framed member stops at the limit', async (t) => {
  const bomb = member(Buffer.alloc(8 * 1024 * 1024), { isize: 100 });
  const r = rejected(await read(bomb));
  t.assert.equal(r.status, 400);
  const honest = member(Buffer.alloc(8 * 1024 * 1024));
  t.assert.equal(rejected(await read(honest)).status, 413);
});

/** A member of stored deflate blocks with the 'SX' subfield, as @sextant/otlp writes H frames. */
function storedMember(data: Buffer, crc = crc32(data)): Buffer {
  const total = 20 + 5 + data.length + 8;
  const out = Buffer.alloc(total);
  out.set([0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 0, 255, 8, 0, 0x53, 0x58, 4, 0]);
  out.writeUInt32LE(total, 16);
  out[20] = 1;
  out.writeUInt16LE(data.length, 21);
  out.writeUInt16LE(~data.length & 0xffff, 23);
  data.copy(out, 25);
  out.writeUInt32LE(crc, 25 + data.length);
  out.writeUInt32LE(data.length, 29 + data.length);
  return out;
}

void test('stored members decode to their bytes; a stored member whose CRC-32 is wrong is a 400', async (t) => {
  const head = Buffer.from('resource attributes '.repeat(20));
  const body = Buffer.concat([storedMember(head), member(Buffer.from('records '.repeat(3000)))]);
  const r = await read(body);
  if (r.kind !== 'ok') throw new Error(`expected ok, got ${r.message}`);
  t.assert.deepEqual(r.frames?.[0]?.decoded, head);
  t.assert.equal(r.body.toString(), head.toString() + 'records '.repeat(3000));
  const bad = rejected(await read(Buffer.concat([storedMember(head, 12345), member(Buffer.from('x'))])));
  t.assert.equal(bad.status, 400);
});
