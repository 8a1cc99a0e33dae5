// exporter.protocol splunk_hec: enriched records reach a real HTTP server on 127.0.0.1 that plays
// the HEC event endpoint (POST /services/collector/event, `Authorization: Splunk <token>`, events
// concatenated as JSON, gzip accepted); a 4xx dead-letters the batch, a 503 is retried.
import { createServer } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createEnrichmentService, resolveEnrichmentConfig } from '@sextant/enrichment';
import type { EnrichmentService } from '@sextant/enrichment';
import { createDiskQueue, silentLogger } from '@sextant/pipeline';
import { listenLocal, logsRequest, metricValue, metricsRequest, tempDir, waitUntil } from './helpers.ts';

const TOKEN = '6c1d2f0e-1111-4222-8333-944444444444';
const UID = '33333333-3333-4333-8333-333333333333';

const objects = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop' } },
  {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: 'web-7d9f', namespace: 'shop', uid: 'rs-1', ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: 'dep-1', controller: true }] },
  },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-7d9f-abcde', namespace: 'shop', uid: UID, labels: { app: 'web' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-7d9f', uid: 'rs-1', controller: true }] },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'ghcr.io/example/web:2.1' }] },
    status: { phase: 'Running', podIP: '10.0.0.7', podIPs: [{ ip: '10.0.0.7' }] },
  },
];

const collectorAttrs: Array<[string, string]> = [
  ['k8s.namespace.name', 'shop'],
  ['k8s.pod.name', 'web-7d9f-abcde'],
  ['k8s.pod.uid', UID],
  ['k8s.container.name', 'app'],
];

type HecEvent = { event: unknown; time?: number; host?: string; index?: string; source?: string; sourcetype?: string; fields?: Record<string, unknown> };

interface Hec {
  endpoint: string;
  events: HecEvent[];
  requests: Array<{ url: string | undefined; authorization: string | undefined; encoding: string | undefined; status: number }>;
  /** Answer this status instead of 200 while set. */
  failWith: number | undefined;
}

/** Splits a HEC body: JSON objects one after another (whitespace between them allowed). */
function parseEvents(text: string): HecEvent[] {
  const out: HecEvent[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === '{') {
      if (depth === 0) start = i;
      depth++;
    } else if (c === '}') {
      depth--;
      if (depth === 0) out.push(JSON.parse(text.slice(start, i + 1)) as HecEvent);
    }
  }
  return out;
}

async function startHec(t: TestContext): Promise<Hec> {
  const hec: Hec = { endpoint: '', events: [], requests: [], failWith: undefined };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const answer = (status: number, text: string, code: number): void => {
        hec.requests.push({ url: req.url, authorization: req.headers.authorization, encoding: req.headers['content-encoding'], status });
        res.writeHead(status, { 'content-type': 'application/json', ...(status === 503 ? { 'retry-after': '0' } : {}) }).end(JSON.stringify({ text, code }));
      };
      if (req.method !== 'POST' || req.url !== '/services/collector/event') return answer(404, 'The requested URL was not found on this server.', 404);
      if (req.headers.authorization !== `Splunk ${TOKEN}`) return answer(403, 'Invalid token', 4);
      if (hec.failWith === 400) return answer(400, 'Invalid data format', 6);
      if (hec.failWith === 503) return answer(503, 'Server is busy', 9);
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      const events = parseEvents(body.toString('utf8'));
      if (events.length === 0) return answer(400, 'No data', 5);
      if (events.some((e) => e.event === undefined || e.event === '' || e.event === null)) return answer(400, 'Event field cannot be blank', 13);
      hec.events.push(...events);
      return answer(200, 'Success', 0);
    });
  });
  const listening = await listenLocal(server);
  t.after(listening.close);
  hec.endpoint = listening.url;
  return hec;
}

async function startService(t: TestContext, hec: Hec, splunk: Record<string, unknown>): Promise<{ service: EnrichmentService; post: (path: string, body: Uint8Array) => Promise<number>; queueDir: string }> {
  const dir = await tempDir('sextant-hec-');
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: objects }));
  const queueDir = join(dir.path, 'queue');
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      metadata: { source: 'file', path: objectsPath, clusterName: 'test-cluster', waitForPod: 200 },
      queue: { dir: queueDir, maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'splunk_hec', endpoint: hec.endpoint, splunk },
      export: { initialBackoff: 50, maxBackoff: 100 },
    },
    { logger: silentLogger() },
  );
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await service.shutdown();
  };
  t.after(async () => {
    await stop();
    await dir.remove();
  });
  await service.start();
  await waitUntil('ready', () => service.ready());
  const url = `http://127.0.0.1:${service.address()?.port}`;
  return {
    service,
    queueDir,
    async post(path, body) {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

void test('splunk_hec: enriched log records arrive as HEC events with the k8s fields, the token (from a file), index, source and sourcetype; metrics as metric events', async (t) => {
  const hec = await startHec(t);
  const dir = await tempDir('sextant-hec-token-');
  t.after(() => dir.remove());
  await writeFile(join(dir.path, 'token'), `${TOKEN}\n`);
  const { service, post } = await startService(t, hec, { token: `file:${join(dir.path, 'token')}`, index: 'k8s-logs', source: 'sextant', sourcetype: 'otel:k8s' });
  t.assert.equal(await post('/v1/logs', logsRequest([{ attributes: collectorAttrs, records: 3, body: 'GET /cart' }])), 200);
  await waitUntil('3 HEC events', () => hec.events.length === 3);
  const first = hec.requests[0];
  t.assert.equal(first?.authorization, `Splunk ${TOKEN}`);
  t.assert.equal(first?.encoding, 'gzip', 'the default compression reaches HEC as gzip');
  t.assert.deepEqual(
    hec.events.map((e) => e.event),
    ['GET /cart 0', 'GET /cart 1', 'GET /cart 2'],
  );
  const e = hec.events[0];
  t.assert.equal(e?.index, 'k8s-logs');
  t.assert.equal(e?.source, 'sextant');
  t.assert.equal(e?.sourcetype, 'otel:k8s');
  t.assert.equal(e?.host, 'node-1', 'host is the node the pod runs on (k8s.node.name)');
  t.assert.equal(e?.time, 1_700_000_000, 'the record time, in seconds');
  const f = e?.fields ?? {};
  t.assert.equal(f['k8s.deployment.name'], 'web');
  t.assert.equal(f['k8s.replicaset.name'], 'web-7d9f');
  t.assert.equal(f['k8s.namespace.name'], 'shop');
  t.assert.equal(f['k8s.pod.uid'], UID);
  t.assert.equal(f['k8s.node.name'], 'node-1');
  t.assert.equal(f['k8s.cluster.name'], 'test-cluster');
  t.assert.equal(f['container.image.name'], 'ghcr.io/example/web');
  t.assert.equal(f['log.iostream'], 'stdout');

  t.assert.equal(await post('/v1/metrics', metricsRequest(collectorAttrs, 2)), 200);
  await waitUntil('2 metric events', () => hec.events.length === 5);
  const m = hec.events.slice(3);
  t.assert.deepEqual(
    m.map((x) => [x.event, x.fields?.['metric_name:test.gauge'], x.fields?.['k8s.deployment.name'], x.index]),
    [
      ['metric', 0, 'web', 'k8s-logs'],
      ['metric', 1, 'web', 'k8s-logs'],
    ],
  );
  const text = await service.metricsText();
  t.assert.equal(metricValue(text, 'sextant_enrichment_exported_records_total{signal="logs"}'), 3);
});

void test('splunk_hec: a 4xx from HEC dead-letters the batch (counted, kept); a 503 is retried until HEC takes it (token from the environment)', async (t) => {
  const hec = await startHec(t);
  const saved = process.env['SEXTANT_BACKEND_TOKEN'];
  process.env['SEXTANT_BACKEND_TOKEN'] = TOKEN;
  t.after(() => {
    if (saved === undefined) delete process.env['SEXTANT_BACKEND_TOKEN'];
    else process.env['SEXTANT_BACKEND_TOKEN'] = saved;
  });
  const { service, post, queueDir } = await startService(t, hec, { token: 'env:SEXTANT_BACKEND_TOKEN', index: 'main' });

  hec.failWith = 400;
  t.assert.equal(await post('/v1/logs', logsRequest([{ attributes: collectorAttrs, records: 2, body: 'rejected' }])), 200, 'the ack means durable, not delivered');
  await waitUntil('dead letter counted', async () => metricValue(await service.metricsText(), 'sextant_enrichment_export_items_total{signal="logs",outcome="dead_letter"}') === 1);
  t.assert.equal(hec.requests.filter((r) => r.status === 400).length, 1, 'a permanent failure is not retried');
  t.assert.equal(hec.events.length, 0);

  hec.failWith = 503;
  t.assert.equal(await post('/v1/logs', logsRequest([{ attributes: collectorAttrs, records: 2, body: 'busy' }])), 200);
  await waitUntil('retries', () => hec.requests.filter((r) => r.status === 503).length >= 3);
  t.assert.equal(hec.events.length, 0);
  hec.failWith = undefined;
  await waitUntil('delivered after the 503s', () => hec.events.length === 2);
  t.assert.deepEqual(
    hec.events.map((e) => [e.event, e.index, e.fields?.['k8s.deployment.name']]),
    [
      ['busy 0', 'main', 'web'],
      ['busy 1', 'main', 'web'],
    ],
  );
  const text = await service.metricsText();
  t.assert.equal(metricValue(text, 'sextant_enrichment_export_items_total{signal="logs",outcome="dead_letter"}'), 1, 'the 503s did not dead-letter');
  await service.shutdown();

  // The dead letter is on disk with its reason, for an operator to look at or replay.
  const q = await createDiskQueue({ dir: queueDir, maxBytes: 64 * 1024 * 1024, logger: silentLogger() });
  const dead = q.deadLetters.list();
  await q.close();
  t.assert.equal(dead.length, 1);
  t.assert.match(JSON.stringify(dead[0]), /HTTP 400/);
});

void test('splunk_hec config: the token is required, zstd is refused, the chart names (env:/file:) parse; errors name the key', (t) => {
  const base = { metadata: { source: 'file', path: '/dev/null' }, exporter: { protocol: 'splunk_hec', endpoint: 'https://splunk:8088' } };
  t.assert.throws(() => resolveEnrichmentConfig(base), /exporter\.splunk\.token: undefined is not a secret \(required when exporter\.protocol is splunk_hec/);
  t.assert.throws(
    () => resolveEnrichmentConfig({ ...base, exporter: { ...base.exporter, compression: 'zstd', splunk: { token: 'x' } } }),
    /exporter\.compression: "zstd" is not one of gzip, none \(for exporter\.protocol splunk_hec\)/,
  );
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, exporter: { protocol: 'splunk_hec', splunk: { token: 'x' } } }), /exporter\.endpoint: undefined is not a URL/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...base, exporter: { ...base.exporter, splunk: { token: 'x', indx: 'main' } } }), /exporter\.splunk\.indx: unknown key \(did you mean exporter\.splunk\.index\?\)/);
  const fromEnv = resolveEnrichmentConfig({ ...base, exporter: { ...base.exporter, splunk: { token: 'env:SEXTANT_BACKEND_TOKEN', index: 'k8s' } } });
  t.assert.deepEqual(fromEnv.exporter.splunk, { token: { fromEnv: 'SEXTANT_BACKEND_TOKEN' }, index: 'k8s', source: undefined, sourcetype: undefined });
  const fromFile = resolveEnrichmentConfig({ ...base, exporter: { ...base.exporter, splunk: { token: 'file:/etc/sextant/backend/token' } } });
  t.assert.deepEqual(fromFile.exporter.splunk.token, { fromFile: '/etc/sextant/backend/token' });
});
