import { test } from 'node:test';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { encodeLogsRequestJson, decodeLogsRequest } from '@sextant/otlp';
import { createEnrichmentService } from '@sextant/enrichment';
import type { EnrichmentService } from '@sextant/enrichment';
import { silentLogger } from '@sextant/pipeline';
import { logsRequest, metricValue, metricsRequest, resourceAttrs, startSink, tempDir, waitUntil } from './helpers.ts';
import type { Sink } from './helpers.ts';

const WEB_UID = '11111111-1111-4111-8111-111111111111';
const QUIET_UID = '22222222-2222-4222-8222-222222222222';

const objects = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop', labels: { team: 'payments' } } },
  { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-1', uid: 'node-1', labels: { 'topology.kubernetes.io/zone': 'zone-a' } } },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-7d9f', namespace: 'shop', uid: 'rs-1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-1', controller: true }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: 'web-7d9f-abcde',
      namespace: 'shop',
      uid: WEB_UID,
      creationTimestamp: '2026-11-24T06:00:00Z',
      labels: { app: 'web', 'pod-template-hash': '7d9f' },
      annotations: { 'example.com/owner': 'alice' },
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-1', controller: true }],
    },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'ghcr.io/example/web:2.1' }] },
    status: { phase: 'Running', podIP: '10.0.0.7', podIPs: [{ ip: '10.0.0.7' }], startTime: '2026-11-24T06:00:01Z' },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'quiet', namespace: 'shop', uid: QUIET_UID, annotations: { 'sextant.io/exclude': 'true' } },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'busybox' }] },
    status: { phase: 'Running', podIP: '10.0.0.8', podIPs: [{ ip: '10.0.0.8' }] },
  },
];

interface Harness {
  service: EnrichmentService;
  sink: Sink;
  url: string;
  post(path: string, headers: Record<string, string>, body: Uint8Array | string): Promise<{ status: number; headers: Headers; body: Buffer }>;
}

async function start(t: { after: (fn: () => Promise<void>) => void }, overrides: Record<string, unknown> = {}): Promise<Harness> {
  // One cleanup, in reverse order of start (node:test runs after-hooks first-in first-out).
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = await tempDir('sextant-enrichment-');
  cleanups.push(() => dir.remove());
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: objects }));
  const sink = await startSink();
  cleanups.push(() => sink.close());
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      limits: { maxBodyBytes: 256 * 1024, maxDecodedBytes: 1024 * 1024 },
      metadata: {
        source: 'file',
        path: objectsPath,
        clusterName: 'test-cluster',
        waitForPod: 200,
        rules: [
          { from: 'namespace', source: 'label', key: 'team', tagName: 'team' },
          { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'zone' },
          { from: 'pod', source: 'annotation', keyRegex: 'example\\.com/(.*)', tagName: 'example.$1' },
        ],
      },
      queue: { dir: join(dir.path, 'queue'), maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: sink.endpoint },
      export: { initialBackoff: 50, maxBackoff: 200 },
      ...overrides,
    },
    { logger: silentLogger() },
  );
  cleanups.push(() => service.shutdown());
  await service.start();
  await waitUntil('ready', () => service.ready());
  const url = `http://127.0.0.1:${service.address()?.port}`;
  return {
    service,
    sink,
    url,
    async post(path, headers, body) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers, body });
      return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
    },
  };
}

const collectorAttrs: Array<[string, string]> = [
  ['k8s.namespace.name', 'shop'],
  ['k8s.pod.name', 'web-7d9f-abcde'],
  ['k8s.pod.uid', WEB_UID],
  ['k8s.container.name', 'app'],
  ['log.file.path', `/var/log/pods/shop_web-7d9f-abcde_${WEB_UID}/app/0.log`],
  // Set by the sender; enrichment must not overwrite or duplicate it.
  ['service.name', 'checkout'],
];

void test('logs are enriched from the pod, its workload, namespace and node, and exported once durable', async (t) => {
  const h = await start(t);
  const res = await h.post('/v1/logs', { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, gzipSync(logsRequest([{ attributes: collectorAttrs, records: 5 }])));
  t.assert.equal(res.status, 200);
  t.assert.equal(res.body.length, 0, 'full success is an empty ExportLogsServiceResponse');
  t.assert.equal(res.headers.get('sextant-zstd-frames'), '1', 'tells the node collector it reads multi-frame zstd bodies');
  await waitUntil('export', () => h.sink.logs.length === 1);
  const [resource] = resourceAttrs(h.sink.logs[0] as never);
  const got = new Map(resource);
  t.assert.equal(resource?.length, got.size, 'no duplicated keys');
  t.assert.equal(got.get('service.name'), 'checkout', 'existing attributes win');
  t.assert.equal(got.get('k8s.deployment.name'), 'web');
  t.assert.equal(got.get('k8s.replicaset.name'), 'web-7d9f');
  t.assert.equal(got.get('k8s.cluster.name'), 'test-cluster');
  t.assert.equal(got.get('k8s.node.name'), 'node-1');
  t.assert.equal(got.get('k8s.pod.ip'), '10.0.0.7');
  t.assert.equal(got.get('container.image.name'), 'ghcr.io/example/web');
  t.assert.equal(got.get('container.image.tag'), '2.1');
  t.assert.equal(got.get('team'), 'payments');
  t.assert.equal(got.get('zone'), 'zone-a');
  t.assert.equal(got.get('example.owner'), 'alice');
  t.assert.equal(got.get('log.file.path'), `/var/log/pods/shop_web-7d9f-abcde_${WEB_UID}/app/0.log`);
  t.assert.equal(h.sink.logs[0]?.resourceLogs[0]?.scopeLogs[0]?.logRecords.length, 5, 'records copied unchanged');
  const text = await h.service.metricsText();
  t.assert.equal(metricValue(text, 'sextant_enrichment_received_records_total{signal="logs"}'), 5);
  t.assert.equal(metricValue(text, 'sextant_enrichment_enriched_resources_total{signal="logs"}'), 1);
  t.assert.equal(metricValue(text, 'sextant_enrichment_requests_total{signal="logs",code="200"}'), 1);
});

void test('JSON and zstd requests are accepted; JSON is stored and exported as protobuf', async (t) => {
  const h = await start(t);
  const json = encodeLogsRequestJson(decodeLogsRequest(logsRequest([{ attributes: [['k8s.pod.uid', WEB_UID]], records: 2 }])));
  const res = await h.post('/v1/logs', { 'content-type': 'application/json', 'content-encoding': 'zstd' }, zstdCompressSync(Buffer.from(json)));
  t.assert.equal(res.status, 200);
  t.assert.equal(res.headers.get('content-type'), 'application/json');
  t.assert.equal(res.body.toString(), '{}');
  await waitUntil('export', () => h.sink.logs.length === 1);
  t.assert.equal(new Map(resourceAttrs(h.sink.logs[0] as never)[0]).get('k8s.deployment.name'), 'web');
});

void test('an excluded pod is dropped and counted; an unknown pod passes through after the wait and is counted', async (t) => {
  const h = await start(t);
  const body = logsRequest([
    { attributes: [['k8s.pod.uid', QUIET_UID]], records: 3 },
    { attributes: [['k8s.pod.uid', 'no-such-uid'], ['k8s.pod.name', 'ghost']], records: 2 },
    { attributes: [['host.name', 'no pod key']], records: 1 },
  ]);
  const res = await h.post('/v1/logs', { 'content-type': 'application/x-protobuf' }, body);
  t.assert.equal(res.status, 200);
  await waitUntil('export', () => h.sink.logs.length === 1);
  const resources = resourceAttrs(h.sink.logs[0] as never);
  t.assert.equal(resources.length, 2, 'the excluded resource is gone');
  t.assert.deepEqual(resources[0], [['k8s.pod.uid', 'no-such-uid'], ['k8s.pod.name', 'ghost']], 'unknown pod passes through unchanged');
  const text = await h.service.metricsText();
  t.assert.equal(metricValue(text, 'sextant_enrichment_excluded_resources_total{signal="logs"}'), 1);
  t.assert.equal(metricValue(text, 'sextant_enrichment_dropped_total{reason="excluded"}'), 3);
  t.assert.equal(metricValue(text, 'sextant_enrichment_metadata_misses_total{reason="not_found_after_wait"}'), 1);
  t.assert.equal(metricValue(text, 'sextant_enrichment_metadata_misses_total{reason="no_key"}'), 1);
});

void test('metrics requests are enriched the same way', async (t) => {
  const h = await start(t);
  const res = await h.post('/v1/metrics', { 'content-type': 'application/x-protobuf' }, metricsRequest([['k8s.pod.uid', WEB_UID]], 4));
  t.assert.equal(res.status, 200);
  await waitUntil('export', async () => metricValue(await h.service.metricsText(), 'sextant_enrichment_exported_records_total{signal="metrics"}') === 4);
  t.assert.equal(metricValue(await h.service.metricsText(), 'sextant_enrichment_enriched_records_total{signal="metrics"}'), 4);
});

void test('bad input gets its 4xx with a Status body, and the service keeps serving', async (t) => {
  const h = await start(t);
  const good = logsRequest([{ attributes: [['k8s.pod.uid', WEB_UID]], records: 50 }]);
  const cases: Array<[string, Record<string, string>, Uint8Array | string, number]> = [
    ['truncated protobuf', { 'content-type': 'application/x-protobuf' }, good.subarray(0, good.length - 7), 400],
    ['garbage protobuf', { 'content-type': 'application/x-protobuf' }, Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x01]), 400],
    ['wrong content type', { 'content-type': 'text/plain' }, 'hello', 415],
    ['no content type', {}, good, 415],
    ['unknown encoding', { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' }, good, 415],
    ['JSON with wrong types', { 'content-type': 'application/json' }, '{"resourceLogs":[{"resource":{"attributes":"not a list"}}]}', 400],
    ['JSON that is not JSON', { 'content-type': 'application/json' }, '{"resourceLogs":[', 400],
    ['oversized body', { 'content-type': 'application/x-protobuf' }, Buffer.alloc(300 * 1024), 413],
    ['gzip bomb', { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(64 * 1024 * 1024)), 413],
    ['corrupt gzip', { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, Buffer.from('not gzip'), 400],
  ];
  for (const [name, headers, body, status] of cases) {
    const res = await h.post('/v1/logs', headers, body);
    t.assert.equal(res.status, status, name);
    if (headers['content-type'] === 'application/json') {
      const parsed = JSON.parse(res.body.toString()) as { code: number; message: string };
      t.assert.equal(parsed.code, 3, name);
      t.assert.equal(typeof parsed.message, 'string', name);
    } else {
      t.assert.equal(res.body[0], 0x08, `${name}: protobuf Status with code first`);
    }
  }
  const after = await h.post('/v1/logs', { 'content-type': 'application/x-protobuf' }, good);
  t.assert.equal(after.status, 200);
  await waitUntil('export', () => h.sink.logs.length === 1);
  t.assert.equal(h.sink.logs.length, 1, 'nothing from the bad requests reached the backend');
});

void test('healthz, readyz and the Prometheus self-metrics are served', async (t) => {
  const h = await start(t);
  t.assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
  t.assert.equal((await fetch(`${h.url}/readyz`)).status, 200);
  const res = await fetch(`${h.url}/metrics`);
  t.assert.equal(res.status, 200);
  const text = await res.text();
  t.assert.equal(metricValue(text, 'sextant_enrichment_metadata_synced'), 1);
  t.assert.equal(metricValue(text, 'sextant_enrichment_metadata_cache_objects{kind="pods"}'), 2);
  t.assert.equal(metricValue(text, 'sextant_enrichment_queue_depth'), 0);
  t.assert.equal(metricValue(text, 'sextant_enrichment_queue_max_bytes'), 64 * 1024 * 1024);
});

void test('concurrent requests share durable batches and every record is exported once', async (t) => {
  const h = await start(t);
  const n = 20;
  const answers = await Promise.all(
    Array.from({ length: n }, (_, i) => h.post('/v1/logs', { 'content-type': 'application/x-protobuf' }, logsRequest([{ attributes: [['k8s.pod.uid', WEB_UID]], records: 10, body: `req-${i}` }]))),
  );
  t.assert.deepEqual(answers.map((a) => a.status), Array<number>(n).fill(200));
  await waitUntil('export', () => h.sink.logs.reduce((a, l) => a + l.resourceLogs.length, 0) === n);
  const bodies = h.sink.logs.flatMap((l) => l.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((r) => (r.body?.value.case === 'stringValue' ? r.body.value.value : '')))));
  t.assert.equal(bodies.length, n * 10);
  t.assert.equal(new Set(bodies).size, n * 10, 'no record lost or duplicated');
  for (const l of h.sink.logs) for (const rl of l.resourceLogs) t.assert.equal(rl.resource?.attributes.some((a) => a.key === 'k8s.deployment.name'), true);
  t.assert.equal(h.sink.logs.length < n, true, `requests were coalesced into fewer batches (${h.sink.logs.length} exports for ${n} requests)`);
});
