import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, zstdDecompressSync } from 'node:zlib';
import { Writable } from 'node:stream';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { createLogger, createOtlpHttpExporter, parseRetryAfter } from '../src/index.ts';
import { makePki } from './fixtures/pki.ts';

interface Seen { url: string; headers: IncomingMessage['headers']; body: Buffer }
type Handler = (req: IncomingMessage, res: ServerResponse, body: Buffer) => void;

function handle(seen: Seen[], handler: Handler) {
  return (req: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      seen.push({ url: req.url ?? '', headers: req.headers, body });
      handler(req, res, body);
    });
  };
}

async function httpServer(t: TestContext, handler: Handler): Promise<{ url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = createServer(handle(seen, handler));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
}

const payload = Buffer.from('0a0b0c-otlp-bytes');

void test('posts protobuf to /v1/<signal>, gzip and zstd bodies decode to the payload', async (t: TestContext) => {
  const { url, seen } = await httpServer(t, (_req, res) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end());
  for (const compression of ['gzip', 'zstd', 'none'] as const) {
    const ex = createOtlpHttpExporter({ endpoint: url, compression });
    t.after(() => ex.shutdown());
    t.assert.deepEqual(await ex.export({ signal: 'logs', payload }), { kind: 'ok' });
  }
  t.assert.deepEqual(seen.map((s) => [s.url, s.headers['content-type'], s.headers['content-encoding']]), [
    ['/v1/logs', 'application/x-protobuf', 'gzip'], ['/v1/logs', 'application/x-protobuf', 'zstd'], ['/v1/logs', 'application/x-protobuf', undefined],
  ]);
  t.assert.deepEqual(gunzipSync(seen[0]?.body ?? Buffer.alloc(0)), payload);
  t.assert.deepEqual(zstdDecompressSync(seen[1]?.body ?? Buffer.alloc(0)), payload);
  t.assert.deepEqual(seen[2]?.body, payload);
});

void test('429/502/503/504 are retryable with Retry-After; 400 is permanent; a closed port is retryable', async (t: TestContext) => {
  const statuses = [503, 429, 502, 504, 400, 500];
  const { url } = await httpServer(t, (_req, res) => {
    const st = statuses.shift() ?? 200;
    res.writeHead(st, st === 503 ? { 'retry-after': '7' } : {}).end(st === 400 ? 'bad protobuf' : '');
  });
  const ex = createOtlpHttpExporter({ endpoint: url, compression: 'none' });
  t.after(() => ex.shutdown());
  const r1 = await ex.export({ signal: 'metrics', payload });
  t.assert.equal(r1.kind, 'retryable');
  t.assert.equal(r1.kind === 'retryable' ? r1.retryAfterMs : -1, 7000);
  for (let i = 0; i < 3; i++) t.assert.equal((await ex.export({ signal: 'metrics', payload })).kind, 'retryable');
  const bad = await ex.export({ signal: 'metrics', payload });
  t.assert.equal(bad.kind, 'failure');
  t.assert.match(bad.kind === 'failure' ? bad.error.message : '', /HTTP 400: bad protobuf/);
  t.assert.equal((await ex.export({ signal: 'metrics', payload })).kind, 'failure', '500 is not retryable in OTLP/HTTP');
  const closed = createOtlpHttpExporter({ endpoint: 'http://127.0.0.1:1', compression: 'none', timeoutMs: 2000 });
  const r = await closed.export({ signal: 'logs', payload });
  t.assert.equal(r.kind, 'retryable');
  t.assert.match(r.kind === 'retryable' ? r.error.message : '', /SEXTANT_PIPELINE_EXPORT_NETWORK/);
  await closed.shutdown();
});

void test('Retry-After accepts seconds and HTTP dates', (t: TestContext) => {
  t.assert.equal(parseRetryAfter('3'), 3000);
  t.assert.equal(parseRetryAfter(new Date(Date.UTC(2030, 0, 1, 0, 0, 10)).toUTCString(), Date.UTC(2030, 0, 1)), 10_000);
  t.assert.equal(parseRetryAfter('soon'), undefined);
});

void test('header values read from a file pick up rotation', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-secret-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const tokenFile = join(dir, 'token');
  await writeFile(tokenFile, 'Bearer one\n');
  const { url, seen } = await httpServer(t, (_req, res) => res.writeHead(200).end());
  const ex = createOtlpHttpExporter({ endpoint: url, compression: 'none', headers: { Authorization: { fromFile: tokenFile }, 'X-Tenant': 'acme' } });
  t.after(() => ex.shutdown());
  await ex.export({ signal: 'traces', payload });
  await writeFile(tokenFile, 'Bearer two-rotated\n');
  await ex.export({ signal: 'traces', payload });
  t.assert.deepEqual(seen.map((s) => [s.headers.authorization, s.headers['x-tenant']]), [['Bearer one', 'acme'], ['Bearer two-rotated', 'acme']]);
});

void test('TLS with a custom CA file, and mTLS with a client certificate', async (t: TestContext) => {
  const pki = await makePki();
  t.after(() => pki.cleanup());
  const seen: Seen[] = [];
  const server = createHttpsServer({ cert: pki.serverCert, key: pki.serverKey, ca: pki.ca, requestCert: true, rejectUnauthorized: true },
    handle(seen, (req, res) => {
      const peer = (req.socket as TLSSocket).getPeerCertificate();
      res.writeHead(200, { 'x-client': peer.subject.CN }).end();
    }));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const noCa = createOtlpHttpExporter({ endpoint: url, compression: 'none', tls: { certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } });
  t.after(() => noCa.shutdown());
  const r0 = await noCa.export({ signal: 'logs', payload });
  t.assert.equal(r0.kind, 'retryable', 'an unknown CA is refused (and retried, not dropped)');

  const noClientCert = createOtlpHttpExporter({ endpoint: url, compression: 'none', tls: { caFile: pki.caFile } });
  t.after(() => noClientCert.shutdown());
  t.assert.equal((await noClientCert.export({ signal: 'logs', payload })).kind, 'retryable', 'the server demands a client cert');

  const mtls = createOtlpHttpExporter({ endpoint: url, compression: 'none', tls: { caFile: pki.caFile, certFile: pki.clientCertFile, keyFile: pki.clientKeyFile } });
  t.after(() => mtls.shutdown());
  t.assert.deepEqual(await mtls.export({ signal: 'logs', payload }), { kind: 'ok' });
  t.assert.equal(seen.length, 1);
});

void test('a 2xx with partial_success is ok and logged with the rejected count and message', async (t: TestContext) => {
  // ExportLogsServiceResponse{ partial_success{ rejected_log_records: 3, error_message: "too old" } }
  const msg = Buffer.from('too old');
  const inner = Buffer.from([0x08, 3, 0x12, msg.length, ...msg]);
  const body = Buffer.from([0x0a, inner.length, ...inner]);
  const { url } = await httpServer(t, (_req, res) => res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end(body));
  const lines: string[] = [];
  const logger = createLogger({ destination: new Writable({ write(c: Buffer, _e, cb) { lines.push(c.toString()); cb(); } }) });
  const ex = createOtlpHttpExporter({ endpoint: url, compression: 'none', logger });
  t.after(() => ex.shutdown());
  t.assert.deepEqual(await ex.export({ signal: 'logs', payload }), { kind: 'ok' });
  const rec = JSON.parse(lines[0] ?? '{}') as { rejected?: number; message?: string; msg?: string };
  t.assert.equal(rec.rejected, 3);
  t.assert.equal(rec.message, 'too old');
});

void test('NODE_EXTRA_CA_CERTS alone makes a private CA trusted (no caFile)', async (t: TestContext) => {
  const pki = await makePki();
  t.after(() => pki.cleanup());
  const server = createHttpsServer({ cert: pki.serverCert, key: pki.serverKey }, (_req, res) => res.writeHead(200).end());
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }));
  const url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const index = join(import.meta.dirname, '..', 'src', 'index.ts');
  const script = `import { createOtlpHttpExporter } from ${JSON.stringify(index)};
    const ex = createOtlpHttpExporter({ endpoint: ${JSON.stringify(url)}, compression: 'none' });
    const r = await ex.export({ signal: 'logs', payload: new Uint8Array([1]) });
    await ex.shutdown();
    process.stdout.write(r.kind);`;
  // Async: the server answers from this process's event loop.
  const run = async (env: NodeJS.ProcessEnv): Promise<string> =>
    (await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, ...env }, encoding: 'utf8' })).stdout;
  t.assert.equal(await run({ NODE_EXTRA_CA_CERTS: pki.caFile }), 'ok');
  t.assert.equal(await run({ NODE_EXTRA_CA_CERTS: '' }), 'retryable', 'without it the private CA is not trusted');
});
