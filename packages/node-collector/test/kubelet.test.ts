// Issue 6 acceptance "Metrics": pod and container metrics from a recorded kubelet /stats/summary served by a real
// HTTPS server (its own CA, made with the openssl CLI) that requires the bearer token; the collector POSTs them,
// with the host metrics, as OTLP protobuf to /v1/metrics. A wrong token, an untrusted certificate or an unreachable
// kubelet is counted and logged, and the collector goes on.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { createServer as createHttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { zstdDecodeAll } from './helpers/zstd.ts';
import { encodeMetricsRequest } from '@sextant/otlp';
import { createNodeCollector, resolveConfig } from '../src/index.ts';
import { fetchSummary } from '../src/kubelet/client.ts';
import { summaryToResourceMetrics } from '../src/kubelet/summary.ts';
import type { Summary } from '../src/kubelet/summary.ts';
import { flattenMetrics, pointValue } from './helpers/otlp-metrics.ts';
import type { FlatResource } from './helpers/otlp-metrics.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

const run = promisify(execFile);
const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url));
const SUMMARY = await readFile(join(FIXTURES, 'kubelet/summary.json'), 'utf8');
const POD_UID = '5f0c2b8e-1f7a-4b3c-9d2e-0a1b2c3d4e5f';

interface Pki {
  dir: string;
  caFile: string;
  key: string;
  cert: string;
}

/** A CA and a serving certificate signed by it, with the given subjectAltName (P-256: fast to generate). */
async function makePki(dir: string, san: string): Promise<Pki> {
  const p = (f: string): string => join(dir, f);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', p('ca.key'), '-out', p('ca.crt'), '-days', '2', '-subj', '/CN=test-cluster-ca']);
  await run('openssl', ['req', ...ec, '-keyout', p('kubelet.key'), '-out', p('kubelet.csr'), '-subj', '/CN=system:node:node-a']);
  await writeFile(p('ext.cnf'), `subjectAltName=${san}\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', p('kubelet.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-out', p('kubelet.crt'), '-days', '2', '-extfile', p('ext.cnf')]);
  return { dir, caFile: p('ca.crt'), key: await readFile(p('kubelet.key'), 'utf8'), cert: await readFile(p('kubelet.crt'), 'utf8') };
}

interface Kubelet {
  url: string;
  /** The token the kubelet accepts; the SA token file is changed by the test. */
  token: string;
  requests: number;
  unauthorized: number;
}

async function startKubelet(t: { after(fn: () => Promise<void>): void }, pki: Pki, token: string): Promise<Kubelet> {
  const k: Kubelet = { url: '', token, requests: 0, unauthorized: 0 };
  const server = createHttpsServer({ key: pki.key, cert: pki.cert }, (req, res) => {
    k.requests++;
    if (req.headers.authorization !== `Bearer ${k.token}`) {
      k.unauthorized++;
      res.writeHead(401, { 'content-type': 'text/plain' }).end('Unauthorized');
      return;
    }
    if (req.method !== 'GET' || req.url !== '/stats/summary') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(SUMMARY);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  k.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return k;
}

/** An enrichment stand-in: decodes each POST /v1/metrics and answers 200. */
async function startMetricsReceiver(t: { after(fn: () => Promise<void>): void }): Promise<{ endpoint: string; requests: FlatResource[][]; paths: string[] }> {
  const requests: FlatResource[][] = [];
  const paths: string[] = [];
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      paths.push(req.url ?? '');
      let body: Buffer = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'zstd') body = zstdDecodeAll(body);
      if (req.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
      if (req.url === '/v1/metrics' && req.headers['content-type'] === 'application/x-protobuf') requests.push(flattenMetrics(body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  return { endpoint: `127.0.0.1:${(server.address() as AddressInfo).port}`, requests, paths };
}

void test('kubelet summary → OTLP: semconv names, units, instruments and attributes per pod, container and node', (t: TestContext) => {
  const rms = summaryToResourceMetrics(JSON.parse(SUMMARY) as Summary, 'node-a');
  const rs = flattenMetrics(encodeMetricsRequest({ resourceMetrics: rms }));
  // node, 2 pods, 3 containers
  t.assert.equal(rs.length, 6);
  const pod = rs.find((r) => r.attrs['k8s.pod.uid'] === POD_UID && r.attrs['k8s.container.name'] === undefined);
  const app = rs.find((r) => r.attrs['k8s.pod.uid'] === POD_UID && r.attrs['k8s.container.name'] === 'app');
  const node = rs.find((r) => r.attrs['k8s.pod.uid'] === undefined);
  if (pod === undefined || app === undefined || node === undefined) throw new Error('missing resource');
  t.assert.deepStrictEqual(pod.attrs, { 'k8s.pod.uid': POD_UID, 'k8s.pod.name': 'checkout-7d9f8b6c5d-x2x9k', 'k8s.namespace.name': 'shop', 'k8s.node.name': 'node-a' });
  t.assert.deepStrictEqual(app.attrs, { ...pod.attrs, 'k8s.container.name': 'app' });
  t.assert.deepStrictEqual(node.attrs, { 'k8s.node.name': 'node-a' });

  const shape = (r: FlatResource): Record<string, string> => Object.fromEntries([...r.metrics].map(([n, m]) => [n, `${m.kind} ${m.unit}`]));
  t.assert.deepStrictEqual(shape(pod), {
    'k8s.pod.cpu.time': 'counter s',
    'k8s.pod.cpu.usage': 'gauge {cpu}',
    'k8s.pod.memory.usage': 'updowncounter By',
    'k8s.pod.memory.working_set': 'updowncounter By',
    'k8s.pod.memory.rss': 'updowncounter By',
    'k8s.pod.paging.faults': 'counter {fault}',
    'k8s.pod.network.io': 'counter By',
    'k8s.pod.network.errors': 'counter {error}',
    'k8s.pod.filesystem.available': 'updowncounter By',
    'k8s.pod.filesystem.capacity': 'updowncounter By',
    'k8s.pod.filesystem.usage': 'updowncounter By',
    'k8s.pod.volume.available': 'updowncounter By',
    'k8s.pod.volume.capacity': 'updowncounter By',
    'k8s.pod.volume.usage': 'updowncounter By',
    'k8s.pod.volume.inode.count': 'updowncounter {inode}',
    'k8s.pod.volume.inode.used': 'updowncounter {inode}',
    'k8s.pod.volume.inode.free': 'updowncounter {inode}',
  });
  t.assert.deepStrictEqual(shape(app), {
    'container.cpu.time': 'counter s',
    'container.cpu.usage': 'gauge {cpu}',
    'container.memory.usage': 'updowncounter By',
    'container.memory.working_set': 'updowncounter By',
    'container.memory.rss': 'updowncounter By',
    'container.memory.available': 'updowncounter By',
    'container.paging.faults': 'counter {fault}',
    'container.filesystem.available': 'updowncounter By',
    'container.filesystem.capacity': 'updowncounter By',
    'container.filesystem.usage': 'updowncounter By',
  });
  t.assert.ok(node.metrics.has('k8s.node.cpu.time') && node.metrics.has('k8s.node.memory.working_set') && node.metrics.has('k8s.node.filesystem.usage'));

  // values: nanoseconds → s, nanocores → cpus, bytes as ints
  t.assert.equal(pointValue(pod, 'k8s.pod.cpu.time'), 4800);
  t.assert.equal(pod.metrics.get('k8s.pod.cpu.time')?.points[0]?.startTimeUnixNano, BigInt(Date.parse('2026-11-23T12:00:00Z')) * 1_000_000n);
  t.assert.equal(pointValue(pod, 'k8s.pod.cpu.usage'), 0.13);
  t.assert.equal(pointValue(pod, 'k8s.pod.memory.working_set'), 300000000n);
  t.assert.equal(pointValue(pod, 'k8s.pod.network.io', { 'network.interface.name': 'eth0', 'network.io.direction': 'receive' }), 1500000000n);
  t.assert.equal(pointValue(pod, 'k8s.pod.network.io', { 'network.interface.name': 'eth0', 'network.io.direction': 'transmit' }), 700000000n);
  t.assert.equal(pointValue(pod, 'k8s.pod.network.errors', { 'network.io.direction': 'receive' }), 2n);
  t.assert.equal(pointValue(pod, 'k8s.pod.filesystem.usage'), 1093632n);
  t.assert.equal(pointValue(pod, 'k8s.pod.volume.usage', { 'k8s.volume.name': 'data', 'k8s.volume.type': 'persistentVolumeClaim' }), 1000000000n);
  t.assert.equal(pointValue(pod, 'k8s.pod.volume.inode.used', { 'k8s.volume.name': 'cache' }), 144n);
  t.assert.equal(pointValue(pod, 'k8s.pod.paging.faults', { 'system.paging.fault.type': 'major' }), 12n);
  t.assert.equal(pointValue(pod, 'k8s.pod.paging.faults', { 'system.paging.fault.type': 'minor' }), 5788n);
  t.assert.equal(pointValue(app, 'container.cpu.time'), 4500);
  t.assert.equal(pointValue(app, 'container.cpu.usage'), 0.125);
  t.assert.equal(pointValue(app, 'container.memory.usage'), 300000000n);
  t.assert.equal(pointValue(app, 'container.memory.rss'), 200000000n);
  t.assert.equal(pointValue(app, 'container.filesystem.usage'), 40960n);
  // a container with no rootfs stats has no filesystem metrics rather than zeros
  const proxy = rs.find((r) => r.attrs['k8s.container.name'] === 'istio-proxy');
  t.assert.equal(proxy?.metrics.has('container.filesystem.usage'), false);
});

void test('kubelet client: HTTPS with the cluster CA and the bearer token re-read per scrape; 401, untrusted cert and unreachable are errors', async (t: TestContext) => {
  const dir = await tempDir(t, 'sx-kubelet-');
  const pki = await makePki(dir, 'DNS:node-a');
  const kubelet = await startKubelet(t, pki, 'token-1');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 'token-1\n');
  const base = { endpoint: kubelet.url, nodeName: 'node-a', tokenFile, caFile: pki.caFile, insecureSkipVerify: false, timeoutMs: 5000 };

  // the certificate names the node, not 127.0.0.1: accepted through nodeName
  const ok = await fetchSummary(base);
  t.assert.equal(ok.kind, 'ok');
  if (ok.kind === 'ok') t.assert.equal(ok.summary.pods?.length, 2);

  // the kubelet now wants a rotated token; the old file is refused, the rewritten file works without a restart
  kubelet.token = 'token-2';
  const stale = await fetchSummary(base);
  t.assert.deepStrictEqual(stale.kind === 'error' ? [stale.reason, stale.error.slice(0, 8)] : stale.kind, ['status', 'HTTP 401']);
  await writeFile(tokenFile, 'token-2\n');
  t.assert.equal((await fetchSummary(base)).kind, 'ok');

  // without the node name the name check fails; with no CA the chain is untrusted; insecureSkipVerify accepts both
  const noName = await fetchSummary({ ...base, nodeName: undefined });
  t.assert.equal(noName.kind === 'error' && noName.reason, 'connection');
  const noCa = await fetchSummary({ ...base, caFile: undefined });
  t.assert.equal(noCa.kind === 'error' && noCa.reason, 'connection');
  t.assert.equal((await fetchSummary({ ...base, caFile: undefined, nodeName: undefined, insecureSkipVerify: true })).kind, 'ok');

  const noToken = await fetchSummary({ ...base, tokenFile: join(dir, 'missing') });
  t.assert.equal(noToken.kind === 'error' && noToken.reason, 'token');
  const down = await fetchSummary({ ...base, endpoint: 'https://127.0.0.1:1' });
  t.assert.equal(down.kind === 'error' && down.reason, 'connection');
});

void test('collector POSTs host and kubelet metrics to /v1/metrics; a refused or unreachable kubelet is counted, not fatal', async (t: TestContext) => {
  const dir = await tempDir(t, 'sx-kmetrics-');
  const pki = await makePki(dir, 'IP:127.0.0.1,DNS:node-a');
  const kubelet = await startKubelet(t, pki, 'good-token');
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 'wrong-token\n');
  const receiver = await startMetricsReceiver(t);
  const logRoot = join(dir, 'pods');
  await mkdir(logRoot);
  const cfg = resolveConfig(
    testConfig(logRoot, join(dir, 'ckpt'), [receiver.endpoint], {
      metrics: {
        intervalSeconds: 0.1,
        host: { procRoot: join(FIXTURES, 'proc'), sysRoot: join(FIXTURES, 'sys') },
        kubelet: { endpoint: kubelet.url, tokenFile, caFile: pki.caFile },
      },
    }),
    {},
  );
  const collector = createNodeCollector(cfg);
  let stopped = false;
  t.after(async () => {
    if (!stopped) await collector.shutdown();
  });
  await collector.start();
  const selfMetrics = async (): Promise<string> => {
    const res = await fetch(`http://127.0.0.1:${collector.statusAddress()?.port ?? 0}/metrics`);
    return res.text();
  };

  // wrong token: the kubelet answers 401; the host metrics still go out and the failure is counted
  await waitFor(async () => (metricValue(await selfMetrics(), 'sextant_node_collector_metric_scrape_errors_total', '{source="kubelet",reason="status"}') ?? 0) >= 2, 10000, 'kubelet 401 counted');
  await waitFor(() => receiver.requests.length >= 1, 10000, 'a metrics request');
  t.assert.ok(kubelet.unauthorized >= 2);
  const first = receiver.requests[0] ?? [];
  t.assert.equal(first.length, 1, 'host resource only');
  t.assert.equal(pointValue(first[0] ?? { attrs: {}, scope: '', metrics: new Map() }, 'system.memory.limit'), 8192000000n);
  t.assert.ok(receiver.paths.every((p) => p === '/v1/metrics'));

  // the token is fixed in place (as a projected token rotates): the next scrapes carry pods and containers
  await writeFile(tokenFile, 'good-token\n');
  await waitFor(() => receiver.requests.some((r) => r.length > 1), 10000, 'kubelet metrics');
  const req = receiver.requests.find((r) => r.length > 1) ?? [];
  t.assert.equal(req.length, 7, 'host + node + 2 pods + 3 containers');
  const pod = req.find((r) => r.attrs['k8s.pod.uid'] === POD_UID && r.attrs['k8s.container.name'] === undefined);
  t.assert.equal(pod?.attrs['k8s.node.name'], 'node-a');
  t.assert.equal(pod?.metrics.get('k8s.pod.memory.usage')?.unit, 'By');
  const text = await selfMetrics();
  t.assert.ok((metricValue(text, 'sextant_node_collector_metric_scrapes_total', '{source="kubelet",result="ok"}') ?? 0) >= 1);
  t.assert.ok((metricValue(text, 'sextant_node_collector_metric_requests_total', '{result="ok"}') ?? 0) >= 2);

  // the kubelet goes away: counted as connection errors, the collector stays up and keeps sending host metrics
  const before = receiver.requests.length;
  const errorsBefore = metricValue(await selfMetrics(), 'sextant_node_collector_metric_scrape_errors_total', '{source="kubelet",reason="connection"}') ?? 0;
  await collector.shutdown();
  stopped = true;
  const cfg2 = resolveConfig(
    testConfig(logRoot, join(dir, 'ckpt'), [receiver.endpoint], {
      metrics: { intervalSeconds: 0.1, host: { procRoot: join(FIXTURES, 'proc'), sysRoot: join(FIXTURES, 'sys') }, kubelet: { endpoint: 'https://127.0.0.1:1', tokenFile, caFile: pki.caFile } },
    }),
    {},
  );
  const c2 = createNodeCollector(cfg2);
  t.after(() => c2.shutdown());
  await c2.start();
  const m2 = async (): Promise<string> => (await fetch(`http://127.0.0.1:${c2.statusAddress()?.port ?? 0}/metrics`)).text();
  await waitFor(async () => (metricValue(await m2(), 'sextant_node_collector_metric_scrape_errors_total', '{source="kubelet",reason="connection"}') ?? 0) >= 2, 10000, 'connection errors counted');
  await waitFor(() => receiver.requests.length >= before + 2, 10000, 'host metrics keep flowing');
  t.assert.equal(errorsBefore, 0);
  t.assert.equal((await fetch(`http://127.0.0.1:${c2.statusAddress()?.port ?? 0}/healthz`)).status, 200);
});
