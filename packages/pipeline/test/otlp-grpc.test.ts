import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { Metadata, Server, ServerCredentials, status } from '@grpc/grpc-js';
import type { ServerUnaryCall, sendUnaryData, ServiceDefinition } from '@grpc/grpc-js';
import { createOtlpGrpcExporter, grpcServicePaths, retryDelayFromStatusDetails } from '../src/index.ts';
import { makePki } from './fixtures/pki.ts';

// Hand-encoded protobuf for the server side of the test (google.rpc.Status with a RetryInfo detail).
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
};
const ld = (field: number, bytes: Uint8Array | number[]): number[] => [...varint(field * 8 + 2), ...varint(bytes.length), ...bytes];
const vi = (field: number, n: number): number[] => [...varint(field * 8), ...varint(n)];
function statusWithRetryInfo(code: number, seconds: number, nanos: number): Buffer {
  const duration = [...vi(1, seconds), ...vi(2, nanos)];
  const retryInfo = ld(1, duration);
  const any = [...ld(1, [...Buffer.from('type.googleapis.com/google.rpc.RetryInfo')]), ...ld(2, retryInfo)];
  const other = [...ld(1, [...Buffer.from('type.googleapis.com/google.rpc.DebugInfo')]), ...ld(2, [])];
  return Buffer.from([...vi(1, code), ...ld(2, [...Buffer.from('slow down')]), ...ld(3, other), ...ld(3, any)]);
}

interface Reply { code: status; details?: string; retryInfoMs?: number }

function rawService(): ServiceDefinition {
  const def: Record<string, ServiceDefinition[string]> = {};
  for (const path of Object.values(grpcServicePaths)) {
    def[path] = {
      path, requestStream: false, responseStream: false, originalName: 'Export',
      requestSerialize: (b: Buffer) => b, requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b, responseDeserialize: (b: Buffer) => b,
    };
  }
  return def;
}

async function grpcServer(t: TestContext, replies: Reply[], creds = ServerCredentials.createInsecure()): Promise<{ port: number; got: Array<{ path: string; body: Buffer; auth: string | undefined }> }> {
  const got: Array<{ path: string; body: Buffer; auth: string | undefined }> = [];
  const server = new Server();
  const impl: Record<string, (call: ServerUnaryCall<Buffer, Buffer>, cb: sendUnaryData<Buffer>) => void> = {};
  for (const path of Object.values(grpcServicePaths)) {
    impl[path] = (call, cb) => {
      got.push({ path, body: call.request, auth: call.metadata.get('authorization')[0]?.toString() });
      const r = replies.shift() ?? { code: status.OK };
      if (r.code === status.OK) {
        cb(null, Buffer.alloc(0));
        return;
      }
      const md = new Metadata();
      if (r.retryInfoMs !== undefined) md.set('grpc-status-details-bin', statusWithRetryInfo(r.code, Math.floor(r.retryInfoMs / 1000), (r.retryInfoMs % 1000) * 1e6));
      cb({ code: r.code, details: r.details ?? 'nope', metadata: md });
    };
  }
  server.addService(rawService(), impl);
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err === null ? resolve(p) : reject(err))));
  t.after(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return { port, got };
}

void test('RetryInfo is decoded from google.rpc.Status details', (t: TestContext) => {
  t.assert.equal(retryDelayFromStatusDetails(statusWithRetryInfo(8, 2, 500_000_000)), 2500);
  t.assert.equal(retryDelayFromStatusDetails(Buffer.from([...vi(1, 8)])), undefined);
});

void test('raw bytes reach the right service; status codes map to ok/retryable/failure per the OTLP spec', async (t: TestContext) => {
  const { port, got } = await grpcServer(t, [
    { code: status.UNAVAILABLE },
    { code: status.RESOURCE_EXHAUSTED, retryInfoMs: 3250 },
    { code: status.RESOURCE_EXHAUSTED },
    { code: status.INVALID_ARGUMENT, details: 'bad request' },
    { code: status.OK },
    { code: status.DEADLINE_EXCEEDED },
  ]);
  const ex = createOtlpGrpcExporter({ endpoint: `http://127.0.0.1:${port}`, headers: { authorization: 'Bearer t0k' } });
  t.after(() => ex.shutdown());
  const payload = Buffer.from([0x0a, 0x02, 0x08, 0x01]);
  const r = [];
  for (const signal of ['logs', 'metrics', 'traces', 'logs', 'traces', 'metrics']) r.push(await ex.export({ signal, payload }));
  t.assert.equal(r[0]?.kind, 'retryable');
  t.assert.deepEqual(r[1]?.kind === 'retryable' ? r[1].retryAfterMs : -1, 3250);
  t.assert.equal(r[2]?.kind, 'failure', 'RESOURCE_EXHAUSTED without RetryInfo is permanent');
  t.assert.equal(r[3]?.kind, 'failure');
  t.assert.match(r[3]?.kind === 'failure' ? r[3].error.message : '', /INVALID_ARGUMENT: bad request/);
  t.assert.deepEqual(r[4], { kind: 'ok' });
  t.assert.equal(r[5]?.kind, 'retryable');
  t.assert.deepEqual(got.slice(0, 3).map((g) => g.path), [
    '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
    '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
    '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
  ]);
  t.assert.deepEqual(got[0]?.body, payload);
  t.assert.equal(got[0]?.auth, 'Bearer t0k');
  const unknown = await ex.export({ signal: 'profiles', payload });
  t.assert.equal(unknown.kind, 'failure');
});

void test('a server that is down is retryable', async (t: TestContext) => {
  const ex = createOtlpGrpcExporter({ endpoint: 'http://127.0.0.1:1', timeoutMs: 2000 });
  t.after(() => ex.shutdown());
  t.assert.equal((await ex.export({ signal: 'traces', payload: Buffer.alloc(1) })).kind, 'retryable');
});

void test('gRPC over TLS with a custom CA and mTLS', async (t: TestContext) => {
  const pki = await makePki();
  t.after(() => pki.cleanup());
  const creds = ServerCredentials.createSsl(pki.ca, [{ cert_chain: pki.serverCert, private_key: pki.serverKey }], true);
  const { port, got } = await grpcServer(t, [], creds);
  const noCert = createOtlpGrpcExporter({ endpoint: `https://127.0.0.1:${port}`, tls: { caFile: pki.caFile }, timeoutMs: 3000 });
  t.after(() => noCert.shutdown());
  t.assert.equal((await noCert.export({ signal: 'traces', payload: Buffer.alloc(3) })).kind, 'retryable', 'no client cert: refused, retried');
  const ex = createOtlpGrpcExporter({ endpoint: `127.0.0.1:${port}`, tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } });
  t.after(() => ex.shutdown());
  t.assert.deepEqual(await ex.export({ signal: 'traces', payload: Buffer.alloc(3) }), { kind: 'ok' });
  t.assert.equal(got.length, 1);
});
