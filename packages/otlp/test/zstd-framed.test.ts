import { test } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { create, toBinary } from '@bufbuild/protobuf';
import { ExportLogsServiceRequestSchema, decodeLogsRequest, encodeZstdFramedLogs } from '../src/index.ts';

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
