// The exporter sends framed zstd bodies (H_i, R_i per resource) only to an endpoint that said, on a
// 2xx, that it reads every frame (header sextant-zstd-frames: 1). Any other receiver — an older
// enrichment service on node:zlib, whose zstd decoder stops after the first frame — gets one frame,
// so a mixed-version rollout never refuses or truncates a batch.
// gzip needs no negotiation: every gzip reader reads a body of several members whole (last test).
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { createLogsEncoder, decodeLogsRequest, stringKv } from '@sextant/otlp';
import { walkGzipMembers, walkZstdFrames } from '@sextant/pipeline';
import { resolveConfig } from '../src/config.ts';
import { createExporter } from '../src/exporter.ts';

interface Seen {
  frames: number;
  records: number;
  /** Records that node:zlib's decoder alone gets out of the body (it reads the first frame only). */
  recordsFirstFrameOnly: number;
}

async function receiver(t: TestContext, advertise: boolean): Promise<{ endpoint: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const walk = walkZstdFrames(body);
      if (walk.kind !== 'ok') {
        res.writeHead(400).end();
        return;
      }
      const all = Buffer.concat(walk.frames.map((f) => zstdDecompressSync(body.subarray(f.start, f.end))));
      const count = (b: Uint8Array): number => decodeLogsRequest(b).resourceLogs.reduce((n, rl) => n + rl.scopeLogs.reduce((m, sl) => m + sl.logRecords.length, 0), 0);
      const records = count(all);
      const firstOnly = walk.frames.length === 1 ? count(all) : -1;
      seen.push({ frames: walk.frames.length, records, recordsFirstFrameOnly: firstOnly });
      res.writeHead(200, { 'content-type': 'application/x-protobuf', ...(advertise ? { 'sextant-zstd-frames': '1' } : {}) }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

function request(resources: number, records: number): Uint8Array {
  const enc = createLogsEncoder();
  for (let r = 0; r < resources; r++) {
    enc.beginResource([stringKv('k8s.pod.uid', `uid-${r}`)]);
    enc.beginScope();
    for (let i = 0; i < records; i++) enc.addRecord({ timeUnixNano: BigInt(i), body: Buffer.from(`resource ${r} line ${i} ${'x'.repeat(120)}`) });
  }
  return enc.finish();
}

for (const advertise of [false, true]) {
  void test(`zstd framing: ${advertise ? 'an endpoint that advertises frames gets framed bodies after its first answer' : 'an endpoint that never advertises frames always gets one frame'}`, async (t) => {
    const recv = await receiver(t, advertise);
    const exporter = createExporter(resolveConfig({ endpoints: [recv.endpoint], compression: 'zstd', retry: { initialMs: 20, maxMs: 200 } }), { onAttempt: () => undefined, onRetry: () => undefined });
    exporter.start();
    t.after(() => exporter.shutdown());
    for (let i = 0; i < 3; i++) t.assert.equal((await exporter.export(request(2, 50))).kind, 'ok');
    t.assert.equal(recv.seen.length, 3);
    for (const s of recv.seen) t.assert.equal(s.records, 100, 'every record arrives');
    const first = recv.seen[0] as Seen;
    t.assert.equal(first.frames, 1, 'the first body is one frame');
    t.assert.equal(first.recordsFirstFrameOnly, 100, 'a first-frame-only decoder gets every record');
    // 2 resources → H1 R1 H2 R2 when framed
    for (const s of recv.seen.slice(1)) t.assert.equal(s.frames, advertise ? 4 : 1);
  });
}

void test('gzip: every body is framed per resource (members naming their length), which a plain gunzip reads whole', async (t) => {
  const bodies: Buffer[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      bodies.push(Buffer.concat(chunks));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const exporter = createExporter(resolveConfig({ endpoints: [`127.0.0.1:${(server.address() as AddressInfo).port}`], compression: 'gzip', retry: { initialMs: 20, maxMs: 200 } }), { onAttempt: () => undefined, onRetry: () => undefined });
  exporter.start();
  t.after(() => exporter.shutdown());
  const sent = request(3, 40);
  t.assert.equal((await exporter.export(sent)).kind, 'ok');
  const body = bodies[0] as Buffer;
  const walk = walkGzipMembers(body);
  t.assert.equal(walk.kind, 'framed');
  t.assert.equal(walk.kind === 'framed' ? walk.members.length : 0, 6, 'H, R for each of 3 resources');
  t.assert.deepEqual(gunzipSync(body), Buffer.from(sent));
});
