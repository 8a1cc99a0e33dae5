// Self-tracing pointed at the receiver itself must not feed itself: one span per application
// request, none for the self-trace exports, nothing from the export path. Own file: the SDK
// registers process-wide providers.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { silentLogger } from '@sextant/pipeline';
import { freePortForTest } from './ports.ts';
import { createTraceReceiver } from '../src/index.ts';
import { createRawGrpcClient, receivedResources, startCapturingBackend, traceRequest } from './helpers.ts';

void test('self-tracing pointed at the receiver itself: one span per application request, no loop', async (t: TestContext) => {
  process.env['OTEL_BSP_SCHEDULE_DELAY'] = '100';
  const backend = await startCapturingBackend();
  const grpcPort = await freePortForTest();
  const receiver = createTraceReceiver(
    {
      grpc: { host: '127.0.0.1', port: grpcPort },
      http: { host: '127.0.0.1', port: 0 },
      telemetry: { host: '127.0.0.1', port: 0 },
      kube: { enabled: false },
      exporter: { endpoint: backend.endpoint },
      selfTracing: { enabled: true, endpoint: `http://127.0.0.1:${grpcPort}` },
    },
    { logger: silentLogger() },
  );
  const ports = await receiver.start();
  const client = createRawGrpcClient(ports.grpc!);
  t.after(async () => {
    client.close();
    await receiver.shutdown();
    await backend.stop();
  });
  t.assert.equal((await client.exportTraces(traceRequest({ 'service.name': 'app' }, 2))).code, 0);
  t.assert.equal((await fetch(`http://127.0.0.1:${ports.http}/v1/traces`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: traceRequest({ 'service.name': 'app' }, 3) })).status, 200);
  await backend.waitForSpans(5 + 2);
  // Long enough for several more self-trace export rounds if they made spans of their own.
  await new Promise((r) => setTimeout(r, 1500));
  const services = receivedResources(backend).map((r) => r['service.name']);
  t.assert.equal(services.filter((s) => s === 'app').length, 2);
  t.assert.equal(services.filter((s) => s === 'sextant-trace-receiver').length >= 1, true, 'self spans arrive');
  t.assert.equal(backend.spanCount(), 5 + 2, 'exactly one self span per application request, none for the self-trace exports');
});
