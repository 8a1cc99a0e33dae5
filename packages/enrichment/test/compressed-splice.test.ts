// The compressed splice (enrich.ts compressedSpliceParts): zstd and gzip bodies framed per resource
// the way the node collector sends them keep their records compressed from ingest to the backend,
// and export exactly what the protobuf path exports.
import { test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync, gzipSync, zstdCompressSync, zstdDecompressSync } from 'node:zlib';
import { decodeLogsRequest, encodeGzipFramedLogs, encodeZstdFramedLogs } from '@sextant/otlp';
import type { ExportLogsServiceRequest } from '@sextant/otlp';
import { logsRequest, metricValue, startService, startSink, tempDir, waitUntil } from './helpers.ts';
import type { Sink } from './helpers.ts';

const pod = (i: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `pod-${i}`, namespace: 'shop', uid: `uid-${i}`, labels: { app: `app-${i % 3}` }, ...extra },
  spec: { nodeName: 'node-1', containers: [{ name: 'app', image: `ghcr.io/example/app:${i}` }] },
  status: { phase: 'Running', podIP: `10.0.0.${i + 1}`, podIPs: [{ ip: `10.0.0.${i + 1}` }] },
});
const EXCLUDED = 9;
const objects = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop', labels: { team: 'payments' } } },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'node-1' } },
  ...Array.from({ length: EXCLUDED }, (_, i) => pod(i)),
  pod(EXCLUDED, { annotations: { 'sextant.io/exclude': 'true' } }),
];

interface Harness {
  sink: Sink;
  metrics(): Promise<string>;
  post(body: Uint8Array, encoding?: Codec): Promise<number>;
}

type Codec = 'zstd' | 'gzip';

/** Each codec's framed encoder (as the node collector frames), one-frame compressor and decompressor. */
const CODECS = {
  zstd: { framed: (b: Uint8Array) => encodeZstdFramedLogs(b), single: (b: Uint8Array) => zstdCompressSync(b, { pledgedSrcSize: b.length }), inflate: (b: Uint8Array) => zstdDecompressSync(b) },
  gzip: { framed: (b: Uint8Array) => encodeGzipFramedLogs(b), single: (b: Uint8Array) => gzipSync(b), inflate: (b: Uint8Array) => gunzipSync(b) },
} as const;

interface Shared {
  dir: string;
  sink: Sink;
}

async function start(t: { after: (fn: () => Promise<void>) => void }, compression: 'zstd' | 'gzip' | 'none', shared?: Shared): Promise<Harness & { shared: Shared; stop: () => Promise<void> }> {
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  let dir = shared?.dir;
  if (dir === undefined) {
    const d = await tempDir('sextant-compressed-splice-');
    cleanups.push(() => d.remove());
    dir = d.path;
  }
  const objectsPath = join(dir, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: objects }));
  let sink = shared?.sink;
  if (sink === undefined) {
    const s = await startSink();
    cleanups.push(() => s.close());
    sink = s;
  }
  const { service, logsUrl: url } = await startService(
    {
      limits: { maxBodyBytes: 1024 * 1024, maxDecodedBytes: 4 * 1024 * 1024 },
      metadata: { source: 'file', path: objectsPath, clusterName: 'test-cluster', waitForPod: 50 },
      queue: { dir: join(dir, 'queue'), maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: sink.endpoint, compression },
      export: { initialBackoff: 50, maxBackoff: 200 },
    },
    cleanups,
  );
  return {
    sink,
    shared: { dir, sink },
    stop: () => service.shutdown(),
    metrics: () => service.metricsText(),
    async post(body, encoding = 'zstd') {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': encoding }, body });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

// A small deterministic PRNG, so a failure names its seed.
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

/** A request of 2-5 resources: known pods, the excluded pod, an unknown pod, no pod key; at least one exported. */
function randomRequest(seed: number): Uint8Array {
  const r = rng(seed);
  const n = 2 + Math.floor(r() * 4);
  const resources = Array.from({ length: n }, (_, i) => {
    const kind = i === 0 ? 0 : Math.floor(r() * 4);
    const p = Math.floor(r() * EXCLUDED);
    const attributes: Array<[string, string]> =
      kind === 0 ? [['k8s.pod.uid', `uid-${p}`], ['k8s.container.name', 'app']] : kind === 1 ? [['k8s.pod.uid', `uid-${EXCLUDED}`]] : kind === 2 ? [['k8s.pod.uid', 'nobody']] : [['host.name', `h${seed}`]];
    attributes.push(['log.file.path', `/var/log/pods/x_${seed}_${i}/0.log`]);
    // 40-80 records of ~150 B: above the 4 KiB per resource under which requests are stored as protobuf.
    return { attributes, records: 40 + Math.floor(r() * 40), body: `seed ${seed} resource ${i} GET /api/${Math.floor(r() * 1e6)} ${'x'.repeat(100)}` };
  });
  return logsRequest(resources);
}

async function exportOf(h: Harness, body: Uint8Array, encoding: Codec): Promise<ExportLogsServiceRequest> {
  const before = h.sink.logs.length;
  t0Assert(await h.post(body, encoding) === 200, 'request accepted');
  await waitUntil('export', () => h.sink.logs.length === before + 1);
  return h.sink.logs[before] as ExportLogsServiceRequest;
}

function t0Assert(ok: boolean, what: string): void {
  if (!ok) throw new Error(`expected: ${what}`);
}

for (const codec of ['zstd', 'gzip'] as const) {
  for (const compression of ['zstd', 'gzip'] as const) {
    void test(`framed ${codec} requests export exactly what the same requests as one ${codec} stream export (export compression ${compression})`, async (t) => {
      const h = await start(t, compression);
      const c = CODECS[codec];
      const counters = ['sextant_enrichment_received_records_total{signal="logs"}', 'sextant_enrichment_enriched_records_total{signal="logs"}', 'sextant_enrichment_dropped_total{reason="excluded"}'];
      const read = async (): Promise<number[]> => {
        const text = await h.metrics();
        return counters.map((name) => metricValue(text, name) ?? 0);
      };
      for (let seed = 1; seed <= 12; seed++) {
        const request = randomRequest(seed);
        const frames = await c.framed(request);
        const m0 = await read();
        const framed = await exportOf(h, Buffer.concat(frames), codec);
        const framedWire = h.sink.wire.at(-1);
        const m1 = await read();
        const single = await exportOf(h, c.single(request), codec);
        const m2 = await read();
        t.assert.deepEqual(framed, single, `seed ${seed}`);
        // records counted frame by frame = records counted on the joined request (received, enriched, excluded)
        t.assert.deepEqual(
          m1.map((v, i) => v - (m0[i] as number)),
          m2.map((v, i) => v - (m1[i] as number)),
          `seed ${seed}: the same record counts both ways`,
        );
        t.assert.equal((m1[0] as number) > (m0[0] as number), true, `seed ${seed}: records counted`);
        t.assert.equal(framedWire?.encoding, compression);
        if (compression === codec) {
          // Pass-through: the client's R frames reach the backend byte for byte
          // (excluded resources drop theirs; resource 0 is always a known pod).
          t.assert.equal(framedWire?.body.includes(frames[1] as Buffer), true, `seed ${seed}: first R frame passed through`);
          let passed = 0;
          for (let i = 1; i < frames.length; i += 2) if (framedWire?.body.includes(frames[i] as Buffer) === true) passed++;
          t.assert.equal(passed, framed.resourceLogs.length, `seed ${seed}: one R frame per exported resource`);
        }
      }
      const text = await h.metrics();
      t.assert.equal(metricValue(text, 'sextant_enrichment_requests_total{signal="logs",code="200"}'), 24);
    });
  }
}

/** One frame (zstd) or one member naming its length (gzip) of bytes that are not a ResourceLogs, so ingest reads them framed. */
async function oneFrame(codec: Codec, bytes: Uint8Array): Promise<Buffer> {
  if (codec === 'zstd') return zstdCompressSync(bytes, { pledgedSrcSize: bytes.length });
  const members = await encodeGzipFramedLogs(bytes);
  t0Assert(members.length === 1, 'one member');
  return members[0] as Buffer;
}

for (const codec of ['zstd', 'gzip'] as const) {
  const c = CODECS[codec];
  void test(`a framed ${codec} request whose records are malformed is a 400 and never exported`, async (t) => {
    const h = await start(t, codec);
    const good = logsRequest([{ attributes: [['k8s.pod.uid', 'uid-1']], records: 3 }]);
    const frames = await c.framed(good);
    t.assert.equal(frames.length, 2);
    // R replaced by bytes of the same length that do not parse (a scope_logs field running past the end).
    const rLen = good.length - c.inflate(frames[0] as Buffer).length;
    const bad = Buffer.alloc(rLen, 0);
    bad[0] = 0x12;
    bad[1] = 0x7f;
    const status = await h.post(Buffer.concat([frames[0] as Buffer, await oneFrame(codec, bad)]), codec);
    t.assert.equal(status, 400);
    t.assert.equal(await h.post(Buffer.concat(frames), codec), 200);
    await waitUntil('export', () => h.sink.logs.length === 1);
    t.assert.equal(h.sink.logs[0]?.resourceLogs[0]?.scopeLogs[0]?.logRecords.length, 3, 'only the good request was exported');
  });

  void test(`a framed ${codec} request of large resources whose records are malformed deep inside R is a 400, framed or not`, async (t) => {
    const h = await start(t, codec);
    const good = logsRequest([{ attributes: [['k8s.pod.uid', 'uid-1']], records: 60, body: `GET /api/checkout ${'x'.repeat(100)}` }]);
    const frames = await c.framed(good);
    t.assert.equal(frames.length, 2);
    const r = c.inflate(frames[1] as Buffer);
    t.assert.equal(good.length > 4096, true, 'large enough to be read frame by frame');
    // R = scope_logs (0x12 len) { scope (0x0a ...) ... }: the scope's tag becomes field 1 with wire type 7,
    // which only a walk inside the scope sees.
    t.assert.equal(r[0], 0x12);
    let at = 1;
    while (((r[at] as number) & 0x80) !== 0) at++;
    at++;
    t.assert.equal(r[at], 0x0a, 'ScopeLogs starts with its scope');
    const bad = Buffer.from(r);
    bad[at] = 0x0f;
    const badFramed = Buffer.concat([frames[0] as Buffer, await oneFrame(codec, bad)]);
    t.assert.equal(await h.post(badFramed, codec), 400);
    const joined = Buffer.concat([c.inflate(frames[0] as Buffer), bad]);
    t.assert.equal(await h.post(c.single(joined), codec), 400, 'the same bytes as one frame');
    t.assert.equal(await h.post(Buffer.concat(frames), codec), 200);
    await waitUntil('export', () => h.sink.logs.length === 1);
    t.assert.equal(h.sink.logs[0]?.resourceLogs[0]?.scopeLogs[0]?.logRecords.length, 60, 'only the good request was exported');
    t.assert.equal(metricValue(await h.metrics(), 'sextant_enrichment_received_records_total{signal="logs"}'), 60);
  });
}

for (const [stored, exported] of [['zstd', 'gzip'], ['gzip', 'zstd'], ['gzip', 'none']] as const) {
  void test(`${stored} items in the queue are inflated for a ${exported} export, also after a restart that changed the export compression`, async (t) => {
    const first = await start(t, stored);
    first.sink.failWith = 503; // the backend is down: the items stay in the queue
    const requests = [randomRequest(101), randomRequest(102)];
    for (const r of requests) t.assert.equal(await first.post(Buffer.concat(await CODECS[stored].framed(r)), stored), 200);
    await waitUntil('an export attempt', () => first.sink.requests > 0);
    await first.stop();
    first.sink.failWith = undefined;
    const before = first.sink.wire.length;
    const second = await start(t, exported, first.shared);
    await waitUntil('export', () => second.sink.logs.length > 0 && countLogs(second.sink.logs) === expectedRecords(requests));
    for (const w of second.sink.wire.slice(before)) t.assert.equal(w.encoding, exported === 'none' ? undefined : exported);
    await second.stop(); // before the first harness's cleanup removes the shared queue dir
  });
}

function countLogs(logs: readonly ExportLogsServiceRequest[]): number {
  let n = 0;
  for (const l of logs) for (const rl of l.resourceLogs) for (const sl of rl.scopeLogs) n += sl.logRecords.length;
  return n;
}

/** Records of the resources that are not excluded. */
function expectedRecords(requests: readonly Uint8Array[]): number {
  let n = 0;
  for (const r of requests) {
    for (const rl of decodeLogsRequest(r).resourceLogs) {
      if (rl.resource?.attributes.some((a) => a.key === 'k8s.pod.uid' && a.value?.value.value === `uid-${EXCLUDED}`) === true) continue;
      for (const sl of rl.scopeLogs) n += sl.logRecords.length;
    }
  }
  return n;
}
