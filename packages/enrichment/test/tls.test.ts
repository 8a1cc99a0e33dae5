// HTTPS and mTLS on the OTLP/HTTP listener (listen.tls): real TLS over loopback with certificates made by
// openssl, the real file metadata source, the real disk queue and a real HTTP sink as the backend.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { Agent, request } from 'node:https';
import { mkdir, rename, rm, symlink, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createEnrichmentService, resolveEnrichmentConfig } from '@sextant/enrichment';
import type { EnrichmentService } from '@sextant/enrichment';
import { createLogger } from '@sextant/pipeline';
import { createTestPki } from '@sextant/test-env';
import type { TestCa, TestCert, TestPki } from '@sextant/test-env';
import { logsRequest, metricValue, startSink, tempDir, waitUntil } from './helpers.ts';
import type { Sink } from './helpers.ts';

const POD_UID = '33333333-3333-4333-8333-333333333333';
const objects = [
  { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop' } },
  {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'web-1', namespace: 'shop', uid: POD_UID },
    spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'nginx' }] },
    status: { phase: 'Running', podIP: '10.0.0.9', podIPs: [{ ip: '10.0.0.9' }] },
  },
];
const body = logsRequest([{ attributes: [['k8s.namespace.name', 'shop'], ['k8s.pod.name', 'web-1'], ['k8s.pod.uid', POD_UID]], records: 3, body: 'over mtls' }]);

interface Answer {
  status: number;
  body: Buffer;
  /** Set when the TLS handshake (or the connection) failed. */
  error?: string;
}

interface Client {
  ca: Buffer;
  cert?: TestCert;
  servername?: string;
}

/** One request on a fresh connection (agent: false), so each one does its own handshake. */
function call(port: number, path: string, c: Client, opts: { method?: string; body?: Uint8Array; json?: boolean; agent?: Agent } = {}): Promise<Answer> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        path,
        method: opts.method ?? 'GET',
        ca: c.ca,
        ...(c.cert === undefined ? {} : { cert: c.cert.cert, key: c.cert.key }),
        ...(c.servername === undefined ? {} : { servername: c.servername }),
        agent: opts.agent ?? false,
        headers: opts.body === undefined ? {} : { 'content-type': opts.json === true ? 'application/json' : 'application/x-protobuf' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (d: Buffer) => chunks.push(d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
        res.on('error', (e) => resolve({ status: 0, body: Buffer.alloc(0), error: e.message }));
      },
    );
    req.on('error', (e: NodeJS.ErrnoException) => resolve({ status: 0, body: Buffer.alloc(0), error: `${e.code ?? ''} ${e.message}` }));
    req.end(opts.body);
  });
}

/** A Secret volume as kubelet writes it: files are symlinks through `..data`, swapped atomically on update. */
interface SecretVolume {
  dir: string;
  file(name: string): string;
  /** Publishes a new set of files with kubelet's atomic `..data` symlink swap. */
  publish(files: Record<string, string>): Promise<void>;
}

async function secretVolume(dir: string, names: readonly string[]): Promise<SecretVolume> {
  await mkdir(dir, { recursive: true });
  let gen = 0;
  let previous: string | undefined;
  const v: SecretVolume = {
    dir,
    file: (name) => join(dir, name),
    async publish(files) {
      const ts = `..gen_${++gen}`;
      await mkdir(join(dir, ts));
      for (const [name, from] of Object.entries(files)) await copyFile(from, join(dir, ts, name));
      await symlink(ts, join(dir, '..data_tmp'));
      await rename(join(dir, '..data_tmp'), join(dir, '..data'));
      if (previous !== undefined) await rm(join(dir, previous), { recursive: true, force: true });
      previous = ts;
    },
  };
  for (const n of names) await symlink(join('..data', n), join(dir, n));
  return v;
}

type TempDir = Awaited<ReturnType<typeof tempDir>>;

/** What a client sees when the server's certificate does not verify against its CA. */
const UNTRUSTED = /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|unable to verify/;

interface Logs {
  lines: string[];
}

interface Harness {
  service: EnrichmentService;
  port: number;
  sink: Sink;
  logs: Logs;
}

/** The service on a temp dir; one after-hook stops it, then removes the dir (node:test runs hooks first in, first out). */
async function startService(t: TestContext, dir: TempDir, tls: Record<string, unknown>): Promise<Harness> {
  const cleanups: Array<() => Promise<void>> = [() => dir.remove()];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: objects }));
  const sink = await startSink();
  cleanups.push(() => sink.close());
  const logs: Logs = { lines: [] };
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0, tls: { reloadInterval: '100ms', ...tls } },
      metadata: { source: 'file', path: objectsPath, waitForPod: 100 },
      queue: { dir: join(dir.path, 'queue'), maxBytes: 16 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: sink.endpoint },
      export: { initialBackoff: 50, maxBackoff: 200 },
    },
    { logger: createLogger({ level: 'info', name: 'enrichment', destination }) },
  );
  cleanups.push(() => service.shutdown());
  await service.start();
  await waitUntil('ready', () => service.ready());
  const port = service.address()?.port ?? 0;
  return { service, port, sink, logs };
}

interface Certs {
  pki: TestPki;
  ca: TestCa;
  otherCa: TestCa;
  server: TestCert;
  client: TestCert;
  intruder: TestCert;
}

async function makeCerts(dir: string): Promise<Certs> {
  const pki = createTestPki(dir);
  const [ca, otherCa] = await Promise.all([pki.ca('hop-ca'), pki.ca('other-ca')]);
  const [server, client, intruder] = await Promise.all([
    pki.leaf(ca, 'enrichment', { server: { ips: ['127.0.0.1'], dns: ['sextant-enrichment.sextant.svc'] } }),
    pki.leaf(ca, 'collector', { client: true }),
    pki.leaf(otherCa, 'intruder', { client: true }),
  ]);
  return { pki, ca, otherCa, server, client, intruder };
}

void test('listen.tls: certFile and keyFile go together, clientCaFile needs them; errors name the keys', (t) => {
  const ok = { exporter: { endpoint: 'http://b:4318' } };
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, listen: { tls: { certFile: '/tls/tls.crt' } } }), /listen\.tls: certFile "\/tls\/tls\.crt" and keyFile undefined go together/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, listen: { tls: { clientCaFile: '/tls/ca.crt' } } }), /listen\.tls\.clientCaFile: "\/tls\/ca\.crt" \(mTLS\) needs listen\.tls\.certFile and keyFile/);
  t.assert.throws(() => resolveEnrichmentConfig({ ...ok, listen: { tls: { reloadInterval: 'often' } } }), /listen\.tls\.reloadInterval: "often" is not a duration/);
  const c = resolveEnrichmentConfig({ ...ok, listen: { tls: { certFile: '/a', keyFile: '/b', clientCaFile: '/c' } } });
  t.assert.deepEqual(c.listen.tls, { certFile: '/a', keyFile: '/b', clientCaFile: '/c', reloadInterval: 10_000 });
});

void test('mTLS: a collector certificate from the client CA is accepted; no certificate or another CA gets 401 while /healthz, /readyz and /metrics answer over TLS', async (t) => {
  const dir = await tempDir('sextant-enrichment-tls-');
  const certs = await makeCerts(join(dir.path, 'pki'));
  const h = await startService(t, dir, { certFile: certs.server.certFile, keyFile: certs.server.keyFile, clientCaFile: certs.ca.certFile });
  const trusted: Client = { ca: certs.ca.cert, cert: certs.client };

  const ok = await call(h.port, '/v1/logs', trusted, { method: 'POST', body });
  t.assert.equal(ok.status, 200, ok.error ?? ok.body.toString());
  await waitUntil('the batch at the backend', () => h.sink.logs.length > 0);
  const bodies = h.sink.logs.flatMap((r) => r.resourceLogs.flatMap((rl) => rl.scopeLogs.flatMap((sl) => sl.logRecords.map((lr) => lr.body?.value.value))));
  t.assert.deepEqual(bodies, ['over mtls 0', 'over mtls 1', 'over mtls 2']);

  // The server name of the Service works as well as the IP (both are SANs).
  t.assert.equal((await call(h.port, '/v1/logs', { ...trusted, servername: 'sextant-enrichment.sextant.svc' }, { method: 'POST', body })).status, 200);

  const anonymous: Client = { ca: certs.ca.cert };
  const refused = await call(h.port, '/v1/logs', anonymous, { method: 'POST', body: Buffer.from('{"resourceLogs":[]}'), json: true });
  t.assert.equal(refused.status, 401);
  const status = JSON.parse(refused.body.toString()) as { code: number; message: string };
  t.assert.equal(status.code, 16, 'google.rpc.Status UNAUTHENTICATED');
  t.assert.match(status.message, /SEXTANT_ENRICHMENT_UNAUTHENTICATED: no client certificate was presented/);
  t.assert.equal((await call(h.port, '/v1/metrics', anonymous, { method: 'POST', body })).status, 401);

  const foreign = await call(h.port, '/v1/logs', { ca: certs.ca.cert, cert: certs.intruder }, { method: 'POST', body: Buffer.from('{"resourceLogs":[]}'), json: true });
  t.assert.equal(foreign.status, 401);
  t.assert.match((JSON.parse(foreign.body.toString()) as { message: string }).message, /CN intruder, issuer CN other-ca\) is not trusted by listen\.tls\.clientCaFile/);

  for (const path of ['/healthz', '/readyz', '/metrics']) {
    const r = await call(h.port, path, anonymous);
    t.assert.equal(r.status, 200, `${path} without a client certificate: ${r.error ?? r.body.toString()}`);
  }
  const metrics = (await call(h.port, '/metrics', anonymous)).body.toString();
  t.assert.equal(metricValue(metrics, 'sextant_enrichment_requests_total{signal="logs",code="401"}'), 2);
  t.assert.equal(metricValue(metrics, 'sextant_enrichment_requests_total{signal="logs",code="200"}'), 2);
  await waitUntil('the accepted requests exported', () => h.sink.logs.flatMap((r) => r.resourceLogs).length >= 2);
  t.assert.equal(h.sink.logs.flatMap((r) => r.resourceLogs).length, 2, 'nothing of the refused requests reached the backend');
  t.assert.equal(h.logs.lines.some((l) => l.includes('OTLP request refused: client certificate')), true, 'refusals are logged');

  // Plain HTTP to the TLS port does not get through.
  const plain = await fetch(`http://127.0.0.1:${h.port}/healthz`).then((r) => r.status, () => 0);
  t.assert.notEqual(plain, 200);
});

void test('TLS without clientCaFile: HTTPS for everyone, no client certificate needed', async (t) => {
  const dir = await tempDir('sextant-enrichment-tls-');
  const certs = await makeCerts(join(dir.path, 'pki'));
  const h = await startService(t, dir, { certFile: certs.server.certFile, keyFile: certs.server.keyFile });
  const r = await call(h.port, '/v1/logs', { ca: certs.ca.cert }, { method: 'POST', body });
  t.assert.equal(r.status, 200, r.error);
  const untrusting = await call(h.port, '/healthz', { ca: certs.otherCa.cert });
  t.assert.match(untrusting.error ?? '', UNTRUSTED, 'a client that does not trust the CA fails the handshake');
});

void test('rotation: a Secret volume updated in place (server cert, key and client CA) is served without a restart; a broken update keeps the old one', async (t) => {
  const dir = await tempDir('sextant-enrichment-tls-rot-');
  const certs = await makeCerts(join(dir.path, 'pki'));
  // The rotated generation: a new CA signs the new server cert and the collectors' new client certs.
  const newCa = await certs.pki.ca('hop-ca-2');
  const [newServer, newClient] = await Promise.all([
    certs.pki.leaf(newCa, 'enrichment-2', { server: { ips: ['127.0.0.1'] } }),
    certs.pki.leaf(newCa, 'collector-2', { client: true }),
  ]);
  const vol = await secretVolume(join(dir.path, 'secret'), ['tls.crt', 'tls.key', 'ca.crt']);
  await vol.publish({ 'tls.crt': certs.server.certFile, 'tls.key': certs.server.keyFile, 'ca.crt': certs.ca.certFile });
  const h = await startService(t, dir, { certFile: vol.file('tls.crt'), keyFile: vol.file('tls.key'), clientCaFile: vol.file('ca.crt') });

  const oldClient: Client = { ca: certs.ca.cert, cert: certs.client };
  const newClientConf: Client = { ca: newCa.cert, cert: newClient };
  t.assert.equal((await call(h.port, '/v1/logs', oldClient, { method: 'POST', body })).status, 200);
  // A client that caches its TLS session (a new connection per request, the session ticket kept).
  const resuming = new Agent({ keepAlive: false, maxCachedSessions: 10 });
  t.after(() => resuming.destroy());
  t.assert.equal((await call(h.port, '/v1/logs', oldClient, { method: 'POST', body, agent: resuming })).status, 200);
  t.assert.match((await call(h.port, '/healthz', { ca: newCa.cert })).error ?? '', UNTRUSTED, 'before rotation the new CA does not verify the server');

  await vol.publish({ 'tls.crt': newServer.certFile, 'tls.key': newServer.keyFile, 'ca.crt': newCa.certFile });
  await waitUntil('the rotated server certificate', async () => (await call(h.port, '/healthz', { ca: newCa.cert })).status === 200);
  t.assert.equal((await call(h.port, '/v1/logs', newClientConf, { method: 'POST', body })).status, 200, 'new client cert accepted after rotation');
  t.assert.equal((await call(h.port, '/v1/logs', { ca: newCa.cert, cert: certs.client }, { method: 'POST', body })).status, 401, 'the old client CA no longer trusted');
  t.assert.match((await call(h.port, '/healthz', { ca: certs.ca.cert })).error ?? '', UNTRUSTED, 'the old server certificate is gone');
  const resumed = await call(h.port, '/v1/logs', oldClient, { method: 'POST', body, agent: resuming });
  t.assert.notEqual(resumed.status, 200, 'a session ticket from before the rotation does not resume into the old trust');
  t.assert.equal(h.logs.lines.some((l) => l.includes('reloaded the changed certificate files')), true, 'the reload is logged');

  // A cert with a key that does not match: logged, and the previous certificate keeps serving.
  await vol.publish({ 'tls.crt': certs.server.certFile, 'tls.key': newServer.keyFile, 'ca.crt': newCa.certFile });
  await waitUntil('the warning', () => h.logs.lines.some((l) => l.includes('do not load; still serving the previous certificate')));
  t.assert.equal((await call(h.port, '/v1/logs', newClientConf, { method: 'POST', body })).status, 200);
  t.assert.equal(h.service.ready(), true);
});

void test('an unreadable listen.tls file stops the start with SEXTANT_ENRICHMENT_TLS', async (t) => {
  const dir = await tempDir('sextant-enrichment-tls-');
  t.after(() => dir.remove());
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0, tls: { certFile: join(dir.path, 'missing.crt'), keyFile: join(dir.path, 'missing.key') } },
      metadata: { source: 'file', path: join(dir.path, 'objects.json') },
      queue: { dir: join(dir.path, 'queue') },
      exporter: { protocol: 'otlp_http', endpoint: 'http://127.0.0.1:1' },
    },
    { logger: createLogger({ level: 'silent' }) },
  );
  t.after(() => service.shutdown());
  await t.assert.rejects(service.start(), /SEXTANT_ENRICHMENT_TLS: listen\.tls files cannot be read \(certFile .*missing\.crt/);
});
