// Service behaviour: durable queue across a backend outage and a restart, TLS and mTLS on both
// receivers, /metrics /healthz /readyz, graceful shutdown, config errors.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@sextant/pipeline';
import { createTraceReceiver, loadTraceReceiverConfig, resolveTraceReceiverConfig } from '../src/index.ts';
import type { TraceReceiver } from '../src/index.ts';
import { PODS, writePodsFile } from './fixtures.ts';
import { createRawGrpcClient, receivedResources, retryDelayMs, startCapturingBackend, traceRequest } from './helpers.ts';
import { makePki } from './tls.ts';

// Removed after everything else the test registered (node:test runs after-hooks in order).
function tempDir(t: TestContext, prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  void t;
  return dir;
}

async function get(port: number, path: string): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: res.status, body: await res.text() };
}

const base = (endpoint: string, podsPath: string): Record<string, unknown> => ({
  grpc: { host: '127.0.0.1', port: 0 },
  http: { host: '127.0.0.1', port: 0 },
  telemetry: { host: '127.0.0.1', port: 0 },
  kube: { source: 'file', path: podsPath, watch: false },
  exporter: { endpoint, timeoutMs: 1000 },
  shutdownTimeoutMs: 2000,
});

void test('durable queue: spans accepted during a backend outage arrive after it returns, also across a restart', async (t: TestContext) => {
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  const dir = tempDir(t, 'sextant-traces-queue-');
  t.after(async () => {
    await backend.stop();
    pods.cleanup();
  });
  const cfg = { ...base(backend.endpoint, pods.path), queue: { enabled: true, dir, maxBytes: '8Mi' }, export: { retryInitialMs: 50, retryMaxMs: 200 } };
  backend.mode = 'unavailable';
  let receiver: TraceReceiver = createTraceReceiver(cfg, { logger: silentLogger() });
  let ports = await receiver.start();
  let client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.web.ip });
  for (let i = 0; i < 5; i++) t.assert.equal((await client.exportTraces(traceRequest({ 'service.name': 'q' }, 4, i + 1))).code, 0, 'accepted once durable');
  client.close();
  // Restart while the backend is still down: the queue keeps what was accepted.
  await receiver.shutdown();
  t.assert.equal(backend.spanCount(), 0);
  receiver = createTraceReceiver(cfg, { logger: silentLogger() });
  t.after(() => receiver.shutdown());
  ports = await receiver.start();
  client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.web.ip });
  t.after(() => client.close());
  t.assert.equal((await client.exportTraces(traceRequest({ 'service.name': 'q' }, 4, 99))).code, 0);
  backend.mode = 'ok';
  await backend.waitForSpans(24);
  t.assert.equal(backend.spanCount(), 24, 'every accepted span, exactly once');
  for (const r of receivedResources(backend)) t.assert.equal(r['k8s.pod.uid'], PODS.web.uid, 'enriched before it was queued');
  const metrics = await get(ports.telemetry, '/metrics');
  t.assert.match(metrics.body, /sextant_traces_queue_depth 0/);
});

void test('durable queue full: RESOURCE_EXHAUSTED with RetryInfo', async (t: TestContext) => {
  const backend = await startCapturingBackend();
  backend.mode = 'unavailable';
  const pods = writePodsFile();
  const dir = tempDir(t, 'sextant-traces-queue-');
  const receiver = createTraceReceiver({ ...base(backend.endpoint, pods.path), grpc: { host: '127.0.0.1', port: 0, maxMessageBytes: '4Mi' }, queue: { enabled: true, dir, maxBytes: '1Mi' } }, { logger: silentLogger() });
  const ports = await receiver.start();
  const client = createRawGrpcClient(ports.grpc!);
  t.after(async () => {
    client.close();
    await receiver.shutdown();
    await backend.stop();
    pods.cleanup();
  });
  let last = 0;
  let details: Buffer | undefined;
  for (let i = 0; i < 10 && last === 0; i++) ({ code: last, details } = await client.exportTraces(traceRequest({ pad: 'z'.repeat(300 * 1024) }, 1, i)));
  t.assert.equal(last, 8, 'RESOURCE_EXHAUSTED once the queue is full');
  t.assert.equal(retryDelayMs(details), 1000, '… with RetryInfo (export.retryAfterMs)');
});

void test('TLS and mTLS on both receivers', async (t: TestContext) => {
  const pki = makePki();
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  const tls = { certFile: pki.certFile, keyFile: pki.keyFile, clientCaFile: pki.caFile };
  const receiver = createTraceReceiver(
    { ...base(backend.endpoint, pods.path), grpc: { host: '127.0.0.1', port: 0, tls }, http: { host: '127.0.0.1', port: 0, tls } },
    { logger: silentLogger() },
  );
  const ports = await receiver.start();
  t.after(async () => {
    await receiver.shutdown();
    await backend.stop();
    pods.cleanup();
    pki.cleanup();
  });
  const withCert = createRawGrpcClient(ports.grpc!, '127.0.0.1', { tls: { ca: pki.ca, cert: pki.clientCert, key: pki.clientKey }, localAddress: PODS.web.ip });
  t.after(() => withCert.close());
  t.assert.equal((await withCert.exportTraces(traceRequest({}, 2))).code, 0, 'gRPC over mTLS');
  const noCert = createRawGrpcClient(ports.grpc!, '127.0.0.1', { tls: { ca: pki.ca } });
  t.after(() => noCert.close());
  await t.assert.rejects(noCert.exportTraces(traceRequest({}, 1)), 'a client without a certificate is refused');
  const post = (cert: { cert: Buffer; key: Buffer } | Record<string, never>): Promise<number> =>
    new Promise<number>((resolve, reject) => {
      const req = httpsRequest(
        { host: '127.0.0.1', port: ports.http, path: '/v1/traces', method: 'POST', ca: pki.ca, servername: 'localhost', localAddress: PODS.web.ip, headers: { 'content-type': 'application/x-protobuf' }, ...cert },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.end(traceRequest({}, 3));
    });
  t.assert.equal(await post({ cert: pki.clientCert, key: pki.clientKey }), 200, 'OTLP/HTTP over mTLS');
  await t.assert.rejects(post({}), 'an HTTPS client without a certificate is refused');
  await backend.waitForSpans(5);
  for (const r of receivedResources(backend)) t.assert.equal(r['k8s.pod.name'], 'web', 'the peer address is the TLS connection\'s');
});

void test('/metrics, /healthz and /readyz (not ready until metadata has synced)', async (t: TestContext) => {
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  const dir = tempDir(t, 'sextant-traces-kc-');
  // A kubeconfig whose API server never answers: the cache never syncs.
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(kubeconfig, JSON.stringify({ apiVersion: 'v1', kind: 'Config', clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }], users: [{ name: 'u', user: { token: 't' } }], contexts: [{ name: 'x', context: { cluster: 'c', user: 'u' } }], 'current-context': 'x' }));
  const synced = createTraceReceiver(base(backend.endpoint, pods.path), { logger: silentLogger() });
  const unsynced = createTraceReceiver({ ...base(backend.endpoint, pods.path), kube: { source: 'kubeconfig', path: kubeconfig } }, { logger: silentLogger() });
  const p1 = await synced.start();
  const p2 = await unsynced.start();
  t.after(async () => {
    await Promise.all([synced.shutdown(), unsynced.shutdown()]);
    await backend.stop();
    pods.cleanup();
  });
  const client = createRawGrpcClient(p1.grpc!, '127.0.0.1', { localAddress: PODS.web.ip });
  t.after(() => client.close());
  await client.exportTraces(traceRequest({}, 3));
  await client.exportTraces(Buffer.from([0xff, 0xff]));
  t.assert.equal((await get(p1.telemetry, '/healthz')).status, 200);
  let ready = await get(p1.telemetry, '/readyz');
  for (let i = 0; i < 50 && ready.status !== 200; i++) {
    await new Promise((r) => setTimeout(r, 100));
    ready = await get(p1.telemetry, '/readyz');
  }
  t.assert.equal(ready.status, 200);
  const notReady = await get(p2.telemetry, '/readyz');
  t.assert.equal(notReady.status, 503);
  t.assert.match(notReady.body, /metadata has not synced/);
  t.assert.equal((await get(p2.telemetry, '/healthz')).status, 200, 'live while waiting for the sync');
  const m = (await get(p1.telemetry, '/metrics')).body;
  t.assert.match(m, /sextant_traces_requests_total\{transport="grpc",outcome="ok"\} 1/);
  t.assert.match(m, /sextant_traces_requests_total\{transport="grpc",outcome="SEXTANT_TRACES_MALFORMED"\} 1/);
  t.assert.match(m, /sextant_traces_received_spans_total\{transport="grpc"\} 3/);
  t.assert.match(m, /sextant_traces_resources_total\{by="peer"\} 1/);
  t.assert.match(m, /sextant_traces_metadata_synced 1/);
});

void test('graceful shutdown: calls in progress are answered, then the ports close', async (t: TestContext) => {
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  backend.mode = 'hang';
  const receiver = createTraceReceiver({ ...base(backend.endpoint, pods.path), shutdownTimeoutMs: 500 }, { logger: silentLogger() });
  const ports = await receiver.start();
  t.after(async () => {
    await backend.stop();
    pods.cleanup();
  });
  const client = createRawGrpcClient(ports.grpc!);
  t.after(() => client.close());
  const inFlight = client.exportTraces(traceRequest({}, 1)).catch((err: unknown) => ({ code: -1, message: String(err) }));
  await new Promise((r) => setTimeout(r, 100));
  await receiver.shutdown();
  const answer = await inFlight;
  t.assert.equal(answer.code, 14, `the call in progress gets UNAVAILABLE (retryable), not a reset: ${answer.message}`);
  await t.assert.rejects(fetch(`http://127.0.0.1:${ports.http}/v1/traces`, { method: 'POST' }), 'the HTTP port is closed');
  await t.assert.rejects(createRawGrpcClient(ports.grpc!).exportTraces(traceRequest({}, 1)), 'the gRPC port is closed');
});

void test('config: defaults, environment overrides, and errors that name the key', (t: TestContext) => {
  const cfg = resolveTraceReceiverConfig({ exporter: { endpoint: 'http://backend:4317' } });
  t.assert.equal(cfg.grpc.port, 4317);
  t.assert.equal(cfg.http.port, 4318);
  t.assert.equal(cfg.telemetry.port, 8888);
  t.assert.equal(cfg.grpc.maxMessageBytes, 16 * 1024 * 1024);
  t.assert.equal(cfg.queue.enabled, false);
  t.assert.equal(cfg.selfTracing.enabled, false);
  t.assert.deepEqual(resolveTraceReceiverConfig(cfg), cfg, 'resolving twice changes nothing');
  const env = loadTraceReceiverConfig({ env: { SEXTANT_EXPORTER__ENDPOINT: 'https://b:4317', SEXTANT_GRPC__MAX_MESSAGE_BYTES: '4Mi', SEXTANT_ASSOCIATION__TRUSTED_PROXIES: '10.0.0.0/8,fd00::/8' } });
  t.assert.equal(env.exporter.endpoint, 'https://b:4317');
  t.assert.equal(env.grpc.maxMessageBytes, 4 * 1024 * 1024);
  t.assert.deepEqual(env.association.trustedProxies, ['10.0.0.0/8', 'fd00::/8']);
  t.assert.throws(() => resolveTraceReceiverConfig({}), /exporter\.endpoint/);
  t.assert.throws(() => resolveTraceReceiverConfig({ exporter: { endpoint: 'http://b' }, grpc: { prot: 1 } }), /grpc\.prot: unknown key \(did you mean grpc\.port\?\)/);
  t.assert.throws(() => resolveTraceReceiverConfig({ exporter: { endpoint: 'http://b' }, association: { trustedProxies: ['10.0.0.0/33'] } }), /SEXTANT_TRACES_CONFIG: association\.trustedProxies is "10\.0\.0\.0\/33"/);
  t.assert.throws(() => resolveTraceReceiverConfig({ exporter: { endpoint: 'http://b' }, grpc: { tls: { certFile: '/x' } } }), /grpc\.tls .*both certFile and keyFile/);
  t.assert.throws(() => resolveTraceReceiverConfig({ exporter: { endpoint: 'http://b' }, selfTracing: { enabled: true } }), /selfTracing\.endpoint/);
  t.assert.throws(
    () => createTraceReceiver({ exporter: { endpoint: 'http://b' }, grpc: { tls: { certFile: '/nonexistent.crt', keyFile: '/nonexistent.key' } } }, { logger: silentLogger() }),
    /SEXTANT_TRACES_TLS_FILE: grpc\.tls\.certFile/,
  );
});
