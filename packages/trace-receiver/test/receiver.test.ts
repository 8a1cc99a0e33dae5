// The receiver end to end inside one process: real gRPC and HTTP listeners, the real metadata
// cache (file source), a real gRPC backend. Association, status mapping, bad input.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { decodeTraceResponse, encodeTraceRequestJson, decodeTraceRequest } from '@sextant/otlp';
import { silentLogger } from '@sextant/pipeline';
import { createTraceReceiver } from '../src/index.ts';
import type { TraceReceiverPorts } from '../src/index.ts';
import { PODS, writePodsFile } from './fixtures.ts';
import { createRawGrpcClient, receivedResources, retryDelayMs, startCapturingBackend, traceRequest } from './helpers.ts';
import type { CapturingBackend } from './helpers.ts';

interface Setup {
  ports: TraceReceiverPorts;
  backend: CapturingBackend;
}

async function setup(t: TestContext, extra: Record<string, unknown> = {}): Promise<Setup> {
  const backend = await startCapturingBackend();
  const pods = writePodsFile();
  const receiver = createTraceReceiver(
    {
      grpc: { host: '127.0.0.1', port: 0, maxMessageBytes: 64 * 1024 },
      http: { host: '127.0.0.1', port: 0, maxBodyBytes: 64 * 1024, maxDecodedBytes: 128 * 1024 },
      telemetry: { host: '127.0.0.1', port: 0 },
      kube: { source: 'file', path: pods.path, watch: false },
      exporter: { endpoint: backend.endpoint, timeoutMs: 2000 },
      association: { waitForPodMs: 100 },
      shutdownTimeoutMs: 2000,
      ...extra,
    },
    { logger: silentLogger() },
  );
  const ports = await receiver.start();
  t.after(async () => {
    await receiver.shutdown();
    await backend.stop();
    pods.cleanup();
  });
  return { ports, backend };
}

function post(port: number, body: Uint8Array | string, headers: Record<string, string>, localAddress?: string): Promise<{ status: number; headers: Record<string, unknown>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path: '/v1/traces', method: 'POST', headers, ...(localAddress === undefined ? {} : { localAddress }) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

void test('gRPC: a client whose source address is a pod IP gets that pod\'s attributes; spans arrive intact', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.web.ip });
  t.after(() => client.close());
  const payload = traceRequest({ 'service.name': 'checkout' }, 5);
  const r = await client.exportTraces(payload);
  t.assert.equal(r.code, 0, r.message);
  t.assert.equal(r.body.length, 0, 'a full success has an empty ExportTraceServiceResponse');
  await backend.waitForSpans(5);
  const [res] = receivedResources(backend);
  t.assert.equal(res?.['k8s.pod.uid'], PODS.web.uid);
  t.assert.equal(res?.['k8s.pod.name'], 'web');
  t.assert.equal(res?.['k8s.namespace.name'], 'shop');
  t.assert.equal(res?.['k8s.pod.ip'], PODS.web.ip);
  t.assert.equal(res?.['k8s.node.name'], 'node-a');
  t.assert.equal(res?.['service.name'], 'checkout', 'the application\'s own service.name wins');
  const sent = decodeTraceRequest(payload).resourceSpans[0]!.scopeSpans;
  t.assert.deepEqual(backend.received[0]!.resourceSpans[0]!.scopeSpans, sent, 'scopes and spans are byte-identical');
});

void test('gRPC: a hostNetwork pod is never matched by IP', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.hostnet.ip });
  t.after(() => client.close());
  t.assert.equal((await client.exportTraces(traceRequest({ 'service.name': 'agent' }, 1))).code, 0);
  // The same pod named by resource attribute k8s.pod.ip is not matched either.
  t.assert.equal((await client.exportTraces(traceRequest({ 'service.name': 'agent', 'k8s.pod.ip': PODS.hostnet.ip }, 1))).code, 0);
  await backend.waitForSpans(2);
  for (const res of receivedResources(backend)) {
    t.assert.equal(res['k8s.pod.uid'], undefined);
    t.assert.equal(res['k8s.pod.name'], undefined);
  }
});

void test('association order: k8s.pod.uid, then k8s.pod.ip, then name + namespace, before the peer address', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.web.ip });
  t.after(() => client.close());
  await client.exportTraces(traceRequest({ 'k8s.pod.uid': PODS.api.uid, 'service.name': 'unknown_service:node' }, 1));
  await client.exportTraces(traceRequest({ 'k8s.pod.ip': PODS.api.ip }, 1));
  await client.exportTraces(traceRequest({ 'k8s.pod.name': 'api', 'k8s.namespace.name': 'shop' }, 1));
  await client.exportTraces(traceRequest({ 'k8s.pod.uid': 'not-a-known-uid' }, 1));
  await backend.waitForSpans(4);
  const names = receivedResources(backend).map((r) => r['k8s.pod.name']);
  t.assert.deepEqual(names, ['api', 'api', 'api', 'web'], 'an unknown uid falls through to the peer address');
  const derived = receivedResources(backend)[0]?.['service.name'];
  t.assert.ok(derived !== undefined && !derived.startsWith('unknown_service'), `the SDK default service.name is replaced by the pod's (${derived})`);
});

void test('trusted proxy: X-Forwarded-For is read only from a trusted peer', async (t: TestContext) => {
  const { ports, backend } = await setup(t, { association: { trustedProxies: ['127.0.0.9/32'], waitForPodMs: 100 } });
  const viaProxy = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: '127.0.0.9' });
  const untrusted = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: '127.0.0.8' });
  t.after(() => {
    viaProxy.close();
    untrusted.close();
  });
  t.assert.equal((await viaProxy.exportTraces(traceRequest({}, 1), { metadata: { 'x-forwarded-for': PODS.web.ip } })).code, 0);
  t.assert.equal((await untrusted.exportTraces(traceRequest({}, 1), { metadata: { 'x-forwarded-for': PODS.web.ip } })).code, 0);
  const http = await post(ports.http!, traceRequest({}, 1), { 'content-type': 'application/x-protobuf', 'x-forwarded-for': `${PODS.api.ip}, ${PODS.web.ip}` }, '127.0.0.9');
  t.assert.equal(http.status, 200);
  await backend.waitForSpans(3);
  const names = receivedResources(backend).map((r) => r['k8s.pod.name']);
  t.assert.equal(names.filter((n) => n === 'web').length, 2, 'trusted proxy: the right-most untrusted hop is the client');
  t.assert.equal(names.filter((n) => n === undefined).length, 1, 'an untrusted peer cannot choose its address');
});

void test('OTLP/HTTP: protobuf and JSON, gzip, from a pod IP', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const proto = traceRequest({ 'service.name': 'a' }, 2, 7);
  const r1 = await post(ports.http!, gzipSync(proto), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, PODS.web.ip);
  t.assert.equal(r1.status, 200);
  t.assert.equal(r1.headers['content-type'], 'application/x-protobuf');
  const json = encodeTraceRequestJson(decodeTraceRequest(traceRequest({ 'service.name': 'b' }, 3, 8)));
  const r2 = await post(ports.http!, json, { 'content-type': 'application/json' }, PODS.web.ip);
  t.assert.equal(r2.status, 200);
  t.assert.equal(r2.body.toString(), '{}');
  await backend.waitForSpans(5);
  for (const res of receivedResources(backend)) t.assert.equal(res['k8s.pod.uid'], PODS.web.uid);
});

void test('excluded pods: their spans are dropped and reported as a partial success', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const client = createRawGrpcClient(ports.grpc!, '127.0.0.1', { localAddress: PODS.excluded.ip });
  t.after(() => client.close());
  const r = await client.exportTraces(traceRequest({}, 4));
  t.assert.equal(r.code, 0);
  const resp = decodeTraceResponse(r.body);
  t.assert.equal(resp.partialSuccess?.rejectedSpans, 4n);
  t.assert.match(resp.partialSuccess?.errorMessage ?? '', /SEXTANT_TRACES_EXCLUDED/);
  const h = await post(ports.http!, encodeTraceRequestJson(decodeTraceRequest(traceRequest({}, 2))), { 'content-type': 'application/json' }, PODS.excluded.ip);
  t.assert.equal(h.status, 200);
  t.assert.equal((JSON.parse(h.body.toString()) as { partialSuccess: { rejectedSpans: string } }).partialSuccess.rejectedSpans, '2');
  t.assert.equal(backend.spanCount(), 0);
});

void test('bad input gets the right status and the server keeps serving', async (t: TestContext) => {
  const { ports, backend } = await setup(t);
  const client = createRawGrpcClient(ports.grpc!);
  t.after(() => client.close());
  const good = traceRequest({ 'service.name': 'x' }, 2);
  const truncated = good.subarray(0, good.length - 7);
  const garbage = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x0f, 0x07, 0x01, 0x02]);
  t.assert.equal((await client.exportTraces(truncated)).code, 3, 'truncated → INVALID_ARGUMENT');
  t.assert.equal((await client.exportTraces(garbage)).code, 3, 'garbage → INVALID_ARGUMENT');
  const big = traceRequest({ pad: 'x'.repeat(70 * 1024) }, 1);
  const over = await client.exportTraces(big);
  t.assert.equal(over.code, 8, 'over grpc.maxMessageBytes → RESOURCE_EXHAUSTED');
  t.assert.equal(retryDelayMs(over.details), undefined, '… without RetryInfo, so clients do not retry it');
  const inflatesPastLimit = traceRequest({ pad: 'y'.repeat(200 * 1024) }, 1);
  t.assert.equal((await client.exportTraces(inflatesPastLimit, { gzip: true })).code, 8, 'gzip that inflates past the limit → RESOURCE_EXHAUSTED');
  t.assert.equal((await client.exportTraces(good, { gzip: true })).code, 0, 'gzip request compression is accepted');

  const ct = await post(ports.http!, good, { 'content-type': 'text/plain' });
  t.assert.equal(ct.status, 415);
  const hg = await post(ports.http!, garbage, { 'content-type': 'application/x-protobuf' });
  t.assert.equal(hg.status, 400);
  const ht = await post(ports.http!, truncated, { 'content-type': 'application/x-protobuf' });
  t.assert.equal(ht.status, 400);
  const hj = await post(ports.http!, '{"resourceSpans": [', { 'content-type': 'application/json' });
  t.assert.equal(hj.status, 400);
  t.assert.equal((JSON.parse(hj.body.toString()) as { code: number }).code, 3, 'JSON requests get a JSON google.rpc.Status');
  const hb = await post(ports.http!, Buffer.alloc(65 * 1024 + 1), { 'content-type': 'application/x-protobuf' });
  t.assert.equal(hb.status, 413);
  const hz = await post(ports.http!, gzipSync(Buffer.alloc(200 * 1024)), { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' });
  t.assert.equal(hz.status, 413, 'decompressed past maxDecodedBytes → 413');
  const wrongPath = await client.exportTraces(good, { path: '/opentelemetry.proto.collector.logs.v1.LogsService/Export' });
  t.assert.equal(wrongPath.code, 12, 'an unknown method is UNIMPLEMENTED');

  // still serving
  t.assert.equal((await client.exportTraces(good)).code, 0);
  t.assert.equal((await post(ports.http!, good, { 'content-type': 'application/x-protobuf' })).status, 200);
  await backend.waitForSpans(4);
});

void test('backend outage (no queue): retryable UNAVAILABLE / 503 with a retry hint; over capacity → RESOURCE_EXHAUSTED with RetryInfo / 429', async (t: TestContext) => {
  const { ports, backend } = await setup(t, { export: { maxPendingBytes: 2048, retryAfterMs: 3000 } });
  const client = createRawGrpcClient(ports.grpc!);
  t.after(() => client.close());
  backend.mode = 'unavailable';
  const down = await client.exportTraces(traceRequest({}, 1));
  t.assert.equal(down.code, 14, 'UNAVAILABLE is retryable in OTLP');
  t.assert.equal(retryDelayMs(down.details), 3000);
  const hdown = await post(ports.http!, traceRequest({}, 1), { 'content-type': 'application/x-protobuf' });
  t.assert.equal(hdown.status, 503);
  t.assert.equal(hdown.headers['retry-after'], '3');

  backend.mode = 'hang';
  const first = client.exportTraces(traceRequest({ pad: 'p'.repeat(1500) }, 1));
  await new Promise((r) => setTimeout(r, 200));
  const second = await client.exportTraces(traceRequest({ pad: 'q'.repeat(1500) }, 1));
  t.assert.equal(second.code, 8, 'RESOURCE_EXHAUSTED while the pending bound is reached');
  t.assert.equal(retryDelayMs(second.details), 3000, '… with RetryInfo, which makes it retryable');
  const hsecond = await post(ports.http!, traceRequest({ pad: 'r'.repeat(1500) }, 1), { 'content-type': 'application/x-protobuf' });
  t.assert.equal(hsecond.status, 429);
  t.assert.equal(hsecond.headers['retry-after'], '3');
  backend.releaseHung();
  t.assert.equal((await first).code, 14);

  backend.mode = 'invalid';
  t.assert.equal((await client.exportTraces(traceRequest({}, 1))).code, 13, 'a permanent backend refusal is not retryable');
  backend.mode = 'ok';
  t.assert.equal((await client.exportTraces(traceRequest({}, 1))).code, 0, 'recovers once the backend is back');
});
