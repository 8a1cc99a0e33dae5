import { test } from 'node:test';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { ExportLogsServiceRequestSchema, decodeLogsRequest, encodeGzipFramedLogs, encodeZstdFramedLogs, gzipStoredMember, zstdStoredFrame } from '../src/index.ts';

function request(resources: number): Uint8Array {
  const msg = create(ExportLogsServiceRequestSchema, {
    resourceLogs: Array.from({ length: resources }, (_, i) => ({
      resource: { attributes: [{ key: 'k8s.pod.name', value: { value: { case: 'stringValue' as const, value: `pod-${i}` } } }] },
      scopeLogs: [{ logRecords: Array.from({ length: 50 }, (_, j) => ({ timeUnixNano: BigInt(j), body: { value: { case: 'stringValue' as const, value: `line ${i} ${j} GET /api/${j * 7}` } } })) }],
      schemaUrl: 'https://example/schema',
    })),
  });
  return toBinary(ExportLogsServiceRequestSchema, msg);
}

/** Frame_Content_Size present: FCS flag != 0, or the single-segment bit (1-byte size). */
function hasContentSize(frame: Buffer): boolean {
  const fhd = frame[4] as number;
  return fhd >> 6 !== 0 || (fhd & 0x20) !== 0;
}

void test('a logs request is framed as H, R per resource; every frame declares its size and the frames decode to the request', async (t) => {
  for (const n of [1, 3]) {
    const body = request(n);
    const frames = await encodeZstdFramedLogs(body);
    t.assert.equal(frames.length, 2 * n);
    for (const f of frames) t.assert.equal(hasContentSize(f), true, 'Frame_Content_Size present');
    const decoded = Buffer.concat(frames.map((f) => zstdDecompressSync(f)));
    t.assert.deepEqual(decoded, Buffer.from(body));
    // H_1: ResourceLogs tag, its length, then exactly its resource field.
    const h = zstdDecompressSync(frames[0] as Buffer);
    t.assert.equal(h[0], 0x0a);
    t.assert.deepEqual(decodeLogsRequest(body).resourceLogs.length, n);
    t.assert.equal(h.includes(Buffer.from('pod-0')), true);
    t.assert.equal(h.includes(Buffer.from('line 0 0')), false);
  }
});

void test('a request of another shape is one frame, still with its content size', async (t) => {
  const empty = await encodeZstdFramedLogs(new Uint8Array(0));
  t.assert.equal(empty.length, 1);
  const odd = Buffer.from([0x12, 0x01, 0x00]); // an unknown field 2
  const frames = await encodeZstdFramedLogs(odd);
  t.assert.equal(frames.length, 1);
  t.assert.equal(hasContentSize(frames[0] as Buffer), true);
  t.assert.deepEqual(zstdDecompressSync(frames[0] as Buffer), odd);
});

/** The member length in the 'SX' extra subfield, or undefined when the member has none. */
function sxLength(member: Buffer): number | undefined {
  if (member[0] !== 0x1f || member[1] !== 0x8b || ((member[3] as number) & 0x04) === 0) return undefined;
  const xlen = member.readUInt16LE(10);
  for (let p = 12; p + 4 <= 12 + xlen; p += 4 + member.readUInt16LE(p + 2)) {
    if (member[p] === 0x53 && member[p + 1] === 0x58 && member.readUInt16LE(p + 2) === 4) return member.readUInt32LE(p + 4);
  }
  return undefined;
}

void test('gzip: H, R members per resource, each naming its own length; their concatenation gunzips to the request', async (t) => {
  for (const n of [1, 3]) {
    const body = request(n);
    const members = await encodeGzipFramedLogs(body);
    t.assert.equal(members.length, 2 * n);
    for (const m of members) t.assert.equal(sxLength(m), m.length);
    // One body, decoded by a plain multi-member gzip reader.
    t.assert.deepEqual(gunzipSync(Buffer.concat(members)), Buffer.from(body));
    const h = gunzipSync(members[0] as Buffer);
    t.assert.equal(h[0], 0x0a);
    t.assert.equal(h.includes(Buffer.from('pod-0')), true);
    t.assert.equal(h.includes(Buffer.from('line 0 0')), false);
    const r = gunzipSync(members[1] as Buffer);
    t.assert.equal(r.includes(Buffer.from('line 0 0')), true);
    t.assert.equal(r.includes(Buffer.from('pod-0')), false);
  }
  const odd = Buffer.from([0x12, 0x01, 0x00]);
  const one = await encodeGzipFramedLogs(odd);
  t.assert.equal(one.length, 1);
  t.assert.equal(sxLength(one[0] as Buffer), (one[0] as Buffer).length);
  t.assert.deepEqual(gunzipSync(one[0] as Buffer), odd);
});

void test('stored frames (the H frames): zstd Raw blocks and gzip stored blocks, split at the block limits, decode to their bytes', (t) => {
  for (const n of [0, 1, 300, 65535, 65536, 128 * 1024, 200_000]) {
    const bytes = Buffer.alloc(n);
    for (let i = 0; i < n; i++) bytes[i] = (i * 31 + (i >> 8)) & 0xff;
    const z = zstdStoredFrame(bytes);
    t.assert.equal(hasContentSize(z), true);
    t.assert.deepEqual(zstdDecompressSync(z), bytes, `zstd ${n}`);
    const g = gzipStoredMember(bytes);
    t.assert.equal(sxLength(g), g.length);
    t.assert.deepEqual(gunzipSync(g), bytes, `gzip ${n}`);
  }
});
