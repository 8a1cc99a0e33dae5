// Issue 7 acceptance: the official OpenTelemetry Node SDK (gRPC and HTTP exporters) sends to the
// trace receiver, which associates with pods from a real kube-apiserver and exports to a real
// OpenTelemetry Collector. Pods play their IP through loopback aliases (127.0.0.x).
import { after, before, test } from 'node:test';
import type { TestContext } from 'node:test';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { decodeTraceRequest, encodeTraceRequestJson } from '@sextant/otlp';
import { silentLogger } from '@sextant/pipeline';
import { freePort, startCluster, startOtelCollector } from '@sextant/test-env';
import type { Cluster, OtelCollector, OtlpJsonLine } from '@sextant/test-env';
import { createTraceReceiver } from '@sextant/trace-receiver';
import type { TraceReceiver, TraceReceiverPorts } from '@sextant/trace-receiver';
import { createRawGrpcClient, retryDelayMs, traceRequest } from '../../packages/trace-receiver/test/helpers.ts';
import { attrsOf, createRunningPod, runApp, spansOf } from './e2e.ts';
import type { AppSpan, ReceivedSpan } from './e2e.ts';

const CHECKOUT_IP = '127.0.0.23';
const HOSTNET_IP = '127.0.0.24';
const API_IP = '10.244.1.5';

let cluster: Cluster;
let backend: OtelCollector;
let ports: TraceReceiverPorts;
let checkout: V1Pod;
let apiPod: V1Pod;
const cleanups: Array<() => Promise<void>> = [];

function receiverConfig(endpoint: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    grpc: { host: '127.0.0.1', port: 0 },
    http: { host: '127.0.0.1', port: 0 },
    telemetry: { host: '127.0.0.1', port: 0 },
    kube: { source: 'kubeconfig', path: cluster.kubeconfigPath },
    exporter: { type: 'otlp_grpc', endpoint, timeoutMs: 2000 },
    shutdownTimeoutMs: 2000,
    ...extra,
  };
}

async function startReceiver(cfg: Record<string, unknown>): Promise<{ receiver: TraceReceiver; ports: TraceReceiverPorts }> {
  const r = createTraceReceiver(cfg, { logger: silentLogger() });
  const p = await r.start();
  cleanups.push(() => r.shutdown());
  for (let i = 0; i < 300 && !r.ready(); i++) await new Promise((res) => setTimeout(res, 100));
  if (!r.ready()) throw new Error('trace receiver did not become ready (metadata sync)');
  return { receiver: r, ports: p };
}

before(async () => {
  cluster = await startCluster();
  cleanups.push(() => cluster.stop());
  await cluster.createNamespace('shop');
  await cluster.createNamespace('infra');
  checkout = await createRunningPod(cluster, 'shop', 'checkout-6d4f8b7c9-x2x9q', CHECKOUT_IP);
  apiPod = await createRunningPod(cluster, 'shop', 'api-0', API_IP);
  await createRunningPod(cluster, 'infra', 'node-agent-abcde', HOSTNET_IP, { hostNetwork: true });
  backend = await startOtelCollector();
  cleanups.push(() => backend.stop());
  ({ ports } = await startReceiver(receiverConfig(`http://${backend.grpcEndpoint}`)));
});

after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => {});
});

async function arrived(run: string, n: number, collector = backend): Promise<ReceivedSpan[]> {
  const lines = await collector.waitFor((ls) => spansOf(ls).filter((s) => attrsOf(s.span)['app.run'] === run).length >= n, 20_000);
  return spansOf(lines).filter((s) => attrsOf(s.span)['app.run'] === run);
}

function assertIntact(t: TestContext, sent: readonly AppSpan[], got: readonly ReceivedSpan[]): void {
  t.assert.equal(got.length, sent.length, 'every span arrives exactly once');
  for (const s of sent) {
    const r = got.find((g) => g.span.spanId === s.spanId);
    t.assert.ok(r !== undefined, `span ${s.name} (${s.spanId}) arrived`);
    t.assert.equal(r.span.traceId, s.traceId);
    t.assert.equal(r.span.name, s.name);
    t.assert.equal(r.span.parentSpanId === '' ? undefined : r.span.parentSpanId, s.parentSpanId);
    const attrs = attrsOf(r.span);
    for (const [k, v] of Object.entries(s.attributes)) t.assert.equal(attrs[k], v, `attribute ${k} of ${s.name}`);
    t.assert.deepEqual((r.span.events ?? []).map((e) => e.name), s.events);
    t.assert.deepEqual((r.span.links ?? []).map((l) => ({ traceId: l.traceId, spanId: l.spanId })), s.links);
  }
}

function assertPod(t: TestContext, got: readonly ReceivedSpan[], pod: V1Pod, ip: string | undefined): void {
  for (const { resource } of got) {
    t.assert.equal(resource['k8s.pod.uid'], pod.metadata?.uid);
    t.assert.equal(resource['k8s.pod.name'], pod.metadata?.name);
    t.assert.equal(resource['k8s.namespace.name'], pod.metadata?.namespace);
    t.assert.equal(resource['k8s.node.name'], 'node-1');
    if (ip !== undefined) t.assert.equal(resource['k8s.pod.ip'], ip);
    t.assert.equal(resource['service.name'], 'checkout', 'the application\'s service.name is kept');
  }
}

void test('the SDK with the gRPC exporter, connecting from the pod\'s IP: every span intact, with that pod\'s attributes', async (t: TestContext) => {
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${ports.grpc}`, APP_RUN: 'grpc-peer', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(app.code, 0, app.stderr);
  t.assert.equal(app.spans.length, 6);
  const got = await arrived('grpc-peer', 6);
  assertIntact(t, app.spans, got);
  assertPod(t, got, checkout, CHECKOUT_IP);
});

void test('the SDK with the OTLP/HTTP exporter (protobuf, and JSON) to :4318, from the pod\'s IP', async (t: TestContext) => {
  for (const kind of ['http-proto', 'http-json']) {
    const app = await runApp({ APP_EXPORTER: kind, APP_ENDPOINT: `http://127.0.0.1:${ports.http}`, APP_RUN: kind, SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
    t.assert.equal(app.code, 0, app.stderr);
    const got = await arrived(kind, 6);
    assertIntact(t, app.spans, got);
    assertPod(t, got, checkout, CHECKOUT_IP);
  }
});

void test('k8s.pod.uid from OTEL_RESOURCE_ATTRIBUTES wins over the connection\'s address', async (t: TestContext) => {
  const app = await runApp({
    APP_EXPORTER: 'grpc',
    APP_ENDPOINT: `http://127.0.0.1:${ports.grpc}`,
    APP_RUN: 'grpc-uid',
    OTEL_RESOURCE_ATTRIBUTES: `k8s.pod.uid=${apiPod.metadata?.uid ?? ''}`,
    SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP,
  });
  t.assert.equal(app.code, 0, app.stderr);
  const got = await arrived('grpc-uid', 6);
  assertIntact(t, app.spans, got);
  assertPod(t, got, apiPod, API_IP);
});

void test('a hostNetwork pod is not matched by the IP the client connects from', async (t: TestContext) => {
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${ports.grpc}`, APP_RUN: 'hostnet', SEXTANT_APP_SOURCE_ADDRESS: HOSTNET_IP });
  t.assert.equal(app.code, 0, app.stderr);
  const got = await arrived('hostnet', 6);
  assertIntact(t, app.spans, got);
  for (const { resource } of got) {
    t.assert.equal(resource['k8s.pod.uid'], undefined);
    t.assert.equal(resource['k8s.pod.name'], undefined);
  }
});

void test('bad input gets the right status from the running receiver, which keeps serving the app', async (t: TestContext) => {
  const client = createRawGrpcClient(ports.grpc!);
  t.after(() => client.close());
  const good = traceRequest({}, 1);
  t.assert.equal((await client.exportTraces(Buffer.from('not protobuf at all'))).code, 3);
  t.assert.equal((await client.exportTraces(good.subarray(0, good.length - 3))).code, 3);
  const inflated = traceRequest({ pad: 'z'.repeat(17 * 1024 * 1024) }, 1);
  t.assert.equal((await client.exportTraces(inflated, { gzip: true })).code, 8, 'gzip that inflates past the 16 MiB default: RESOURCE_EXHAUSTED');
  const wrongType = await fetch(`http://127.0.0.1:${ports.http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
  t.assert.equal(wrongType.status, 415);
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${ports.grpc}`, APP_RUN: 'after-bad', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(app.code, 0, app.stderr);
  assertIntact(t, app.spans, await arrived('after-bad', 6));
});

void test('backend outage without the queue: retryable statuses, nothing crashes', async (t: TestContext) => {
  const deadPort = await freePort();
  const down = await startReceiver(receiverConfig(`http://127.0.0.1:${deadPort}`, { export: { retryAfterMs: '2s' } }));
  const client = createRawGrpcClient(down.ports.grpc!);
  t.after(() => client.close());
  const g = await client.exportTraces(traceRequest({}, 2));
  t.assert.equal(g.code, 14, 'UNAVAILABLE');
  t.assert.equal(retryDelayMs(g.details), 2000, 'with RetryInfo');
  const h = await fetch(`http://127.0.0.1:${down.ports.http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: traceRequest({}, 1) });
  t.assert.equal(h.status, 503);
  t.assert.equal(h.headers.get('retry-after'), '2');
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${down.ports.grpc}`, APP_RUN: 'outage', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(app.code, 3, 'the app reports the failed export and exits normally');
  t.assert.match(app.stderr, /EXPORT_FAILED code=14/, 'the SDK saw UNAVAILABLE');
  t.assert.equal((await fetch(`http://127.0.0.1:${down.ports.telemetry}/healthz`)).status, 200, 'the receiver is still up');
  t.assert.equal(down.receiver.ready(), true);
});

void test('backend outage with the durable queue: accepted spans arrive after the backend returns', async (t: TestContext) => {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'sextant-traces-e2e-queue-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const queued = await startReceiver(
    receiverConfig(`http://127.0.0.1:${port}`, { queue: { enabled: true, dir, maxBytes: '64Mi' }, export: { retryInitialMs: '100ms', retryMaxMs: '500ms' } }),
  );
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${queued.ports.grpc}`, APP_RUN: 'queued', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(app.code, 0, `accepted while the backend is down: ${app.stderr}`);
  // The backend comes back on the port the receiver exports to.
  const pipeline = { receivers: ['otlp', 'otlp/fixed'], exporters: ['file'] };
  const late = await startOtelCollector({
    config: {
      receivers: {
        otlp: { protocols: { grpc: { endpoint: '${env:SEXTANT_OTLP_GRPC_ENDPOINT}' } } },
        'otlp/fixed': { protocols: { grpc: { endpoint: `127.0.0.1:${port}` } } },
      },
      exporters: { file: { path: '${env:SEXTANT_OTEL_OUTPUT}', format: 'json', flush_interval: '100ms' } },
      service: { telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } }, pipelines: { traces: pipeline } },
    },
  });
  t.after(() => late.stop());
  const got = await arrived('queued', 6, late);
  assertIntact(t, app.spans, got);
  assertPod(t, got, checkout, CHECKOUT_IP);
});

void test('kube.rules: labels and annotations of the pod, its namespace and its node, by key or regex, as the enrichment names them', async (t: TestContext) => {
  const core = cluster.adminClient.makeApiClient(CoreV1Api);
  await cluster.createNamespace('rules', { team: 'payments' });
  await core.patchNamespace({ name: 'rules', body: { metadata: { annotations: { 'owner.example.com/slack': '#payments', unrelated: 'x' } } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
  await core.createNode({ body: { apiVersion: 'v1', kind: 'Node', metadata: { name: 'node-rules', labels: { 'topology.kubernetes.io/zone': 'eu-1a' } } } });
  const ip = '127.0.0.26';
  const pod = await createRunningPod(cluster, 'rules', 'ledger-0', ip, {
    nodeName: 'node-rules',
    labels: { tier: 'backend', 'feature.example.com/canary': 'true', 'feature.example.com/dark': 'false' },
    annotations: { 'example.com/build': '1234', 'not-extracted': 'y' },
  });
  const rules = [
    { from: 'pod', source: 'label', key: 'tier' },
    { from: 'pod', source: 'label', keyRegex: 'feature\\.example\\.com/(.*)', tagName: 'feature.$1' },
    { from: 'pod', source: 'annotation', key: 'example.com/build', tagName: 'build.id' },
    { from: 'namespace', source: 'label', key: 'team' },
    { from: 'namespace', source: 'annotation', keyRegex: 'owner\\..*' },
    { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'cloud.availability_zone' },
  ];
  const r = await startReceiver(receiverConfig(`http://${backend.grpcEndpoint}`, { kube: { source: 'kubeconfig', path: cluster.kubeconfigPath, rules } }));
  const app = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${r.ports.grpc}`, APP_RUN: 'rules', SEXTANT_APP_SOURCE_ADDRESS: ip });
  t.assert.equal(app.code, 0, app.stderr);
  const got = await arrived('rules', 6);
  assertIntact(t, app.spans, got);
  for (const { resource } of got) {
    t.assert.equal(resource['k8s.pod.uid'], pod.metadata?.uid);
    t.assert.equal(resource['k8s.pod.labels.tier'], 'backend', 'key rule, default tag name');
    t.assert.equal(resource['feature.canary'], 'true', 'regex rule with $1');
    t.assert.equal(resource['feature.dark'], 'false');
    t.assert.equal(resource['build.id'], '1234', 'annotation rule with a tag name');
    t.assert.equal(resource['k8s.namespace.labels.team'], 'payments', 'namespace label');
    t.assert.equal(resource['k8s.namespace.annotations.owner.example.com/slack'], '#payments', 'namespace annotation by regex, default tag name');
    t.assert.equal(resource['k8s.namespace.annotations.unrelated'], undefined, 'what no rule names stays out');
    t.assert.equal(resource['k8s.pod.annotations.not-extracted'], undefined);
    t.assert.equal(resource['cloud.availability_zone'], 'eu-1a', 'node label (the node watch starts because a rule reads nodes)');
  }
});

void test('exporter.type file: the SDK\'s spans, enriched, are appended to the file as length-prefixed ExportTraceServiceRequests', async (t: TestContext) => {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-traces-e2e-file-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'out', 'spans-{signal}.bin');
  const r = await startReceiver(receiverConfig('', { exporter: { type: 'file', file: { path } } }));
  const grpcApp = await runApp({ APP_EXPORTER: 'grpc', APP_ENDPOINT: `http://127.0.0.1:${r.ports.grpc}`, APP_RUN: 'file-grpc', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(grpcApp.code, 0, grpcApp.stderr);
  const httpApp = await runApp({ APP_EXPORTER: 'http-json', APP_ENDPOINT: `http://127.0.0.1:${r.ports.http}`, APP_RUN: 'file-http', SEXTANT_APP_SOURCE_ADDRESS: CHECKOUT_IP });
  t.assert.equal(httpApp.code, 0, httpApp.stderr);
  // The client was answered after the fdatasync, so the file holds both runs now.
  const bytes = readFileSync(join(dir, 'out', 'spans-traces.bin'));
  const got: ReceivedSpan[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const len = bytes.readUInt32BE(pos);
    t.assert.ok(pos + 4 + len <= bytes.length, 'every record is complete');
    const lines = [JSON.parse(encodeTraceRequestJson(decodeTraceRequest(bytes.subarray(pos + 4, pos + 4 + len)))) as OtlpJsonLine];
    got.push(...spansOf(lines));
    pos += 4 + len;
  }
  for (const run of ['file-grpc', 'file-http']) {
    const app = run === 'file-grpc' ? grpcApp : httpApp;
    const mine = got.filter((s) => attrsOf(s.span)['app.run'] === run);
    assertIntact(t, app.spans, mine);
    assertPod(t, mine, checkout, CHECKOUT_IP);
  }
});
