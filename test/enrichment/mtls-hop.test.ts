// The node collector → enrichment hop over mutual TLS, end to end: the collector (src/main.ts as a child
// process) tails a real CRI log file and finds enrichment through a headless-Service name answered by a
// loopback DNS server, so the certificate is verified against the Service name (the server certificate
// has no IP SAN). Enrichment (listen.tls with a client CA) enriches from a file of objects and exports to
// the real OTel Collector. Certificates live in Secret-volume-like directories (kubelet's `..data` symlink
// swap) and are replaced while both processes run. Each broken phase must keep the lines (no loss), log a
// clear error on the collector, and ship them once the certificates are fixed, with no restart.
import { test } from 'node:test';
import { spawn } from 'node:child_process';
import { appendFile, copyFile, mkdir, mkdtemp, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { stringify as toYaml } from 'yaml';
import { createEnrichmentService } from '@sextant/enrichment';
import { createLogger } from '@sextant/pipeline';
import { REPO_ROOT, createTestPki, onProcessExit, startOtelCollector } from '@sextant/test-env';
import { startDnsServer } from '../../packages/node-collector/test/helpers/dns.ts';
import { exportedResources } from './otlp.ts';

const SERVICE = 'sextant-enrichment.sextant.svc';
const POD_UID = '44444444-4444-4444-8444-444444444444';

/** A Secret volume as kubelet writes it: the files are symlinks through `..data`, swapped atomically. */
async function secretVolume(dir: string, files: Record<string, string>): Promise<{ file(name: string): string; publish(files: Record<string, string>): Promise<void> }> {
  await mkdir(dir, { recursive: true });
  let gen = 0;
  const publish = async (src: Record<string, string>): Promise<void> => {
    const ts = `..gen_${++gen}`;
    await mkdir(join(dir, ts));
    for (const [name, from] of Object.entries(src)) await copyFile(from, join(dir, ts, name));
    await symlink(ts, join(dir, '..data_tmp'));
    await rename(join(dir, '..data_tmp'), join(dir, '..data'));
    if (gen > 1) await rm(join(dir, `..gen_${gen - 1}`), { recursive: true, force: true });
  };
  await publish(files);
  for (const n of Object.keys(files)) await symlink(join('..data', n), join(dir, n));
  return { file: (name) => join(dir, name), publish };
}

async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** GET over TLS on a fresh connection, verifying the Service name; no client certificate. */
function probe(port: number, path: string, ca: Buffer, method = 'GET'): Promise<number | string> {
  return new Promise((done) => {
    const req = request({ host: '127.0.0.1', port, path, method, ca, servername: SERVICE, agent: false, headers: method === 'POST' ? { 'content-type': 'application/x-protobuf' } : {} }, (res) => {
      res.resume();
      res.on('end', () => done(res.statusCode ?? 0));
    });
    req.on('error', (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
    req.end();
  });
}

void test('mTLS hop: collector → enrichment by Service name; wrong server cert, wrong CA and a refused client cert each hold the lines until fixed, then all arrive', { timeout: 240_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-mtls-hop-'));
  const cleanups: Array<() => Promise<unknown>> = [() => rm(dir, { recursive: true, force: true, maxRetries: 10, retryDelay: 50 })];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });

  // Certificates: the hop's CA signs enrichment's serving cert (Service name only) and the collector's client cert.
  const pki = createTestPki(join(dir, 'pki'));
  const [ca, otherCa] = await Promise.all([pki.ca('hop-ca'), pki.ca('other-ca')]);
  const [server, client, misissued, intruder] = await Promise.all([
    pki.leaf(ca, 'enrichment', { server: { dns: [SERVICE] } }),
    pki.leaf(ca, 'collector', { client: true }),
    pki.leaf(otherCa, 'enrichment-misissued', { server: { dns: [SERVICE] } }),
    pki.leaf(otherCa, 'intruder', { client: true }),
  ]);

  const backend = await startOtelCollector();
  cleanups.push(() => backend.stop());
  const dns = await startDnsServer();
  cleanups.push(() => dns.close());
  dns.set(SERVICE, ['127.0.0.1']);

  // Enrichment starts with a certificate from the wrong CA (a misissued Secret).
  const serverVol = await secretVolume(join(dir, 'enrichment-tls'), { 'tls.crt': misissued.certFile, 'tls.key': misissued.keyFile, 'ca.crt': ca.certFile });
  const objectsPath = join(dir, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({
    kind: 'List',
    items: [
      { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns-shop' } },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'web-1', namespace: 'shop', uid: POD_UID, labels: { app: 'web' } },
        spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'nginx' }] },
        status: { phase: 'Running', podIP: '10.0.0.5', podIPs: [{ ip: '10.0.0.5' }] },
      },
    ],
  }));
  const enrichment = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0, tls: { certFile: serverVol.file('tls.crt'), keyFile: serverVol.file('tls.key'), clientCaFile: serverVol.file('ca.crt'), reloadInterval: '200ms' } },
      metadata: { source: 'file', path: objectsPath, waitForPod: '100ms', rules: [{ from: 'pod', source: 'label', key: 'app', tagName: 'app' }] },
      queue: { dir: join(dir, 'queue'), maxBytes: '16Mi' },
      exporter: { protocol: 'otlp_http', endpoint: backend.httpEndpoint },
      export: { initialBackoff: '50ms', maxBackoff: '500ms' },
    },
    { logger: createLogger({ level: 'silent' }) },
  );
  cleanups.push(() => enrichment.shutdown());
  await enrichment.start();
  const port = enrichment.address()?.port ?? 0;

  // The collector: CA and client cert from its own Secret volume; endpoints from the Service's A records.
  const clientVol = await secretVolume(join(dir, 'collector-tls'), { 'ca.crt': ca.certFile, 'tls.crt': client.certFile, 'tls.key': client.keyFile });
  const logRoot = join(dir, 'pods');
  const logDir = join(logRoot, `shop_web-1_${POD_UID}`, 'app');
  await mkdir(logDir, { recursive: true });
  const logFile = join(logDir, '0.log');
  await writeFile(logFile, '');
  const configPath = join(dir, 'collector.yaml');
  await writeFile(configPath, toYaml({
    logRoot,
    nodeName: 'node-a',
    checkpointDir: join(dir, 'checkpoints'),
    service: { name: SERVICE, port, dnsServers: [dns.address], resolveIntervalMs: 500 },
    tls: { caFile: clientVol.file('ca.crt'), certFile: clientVol.file('tls.crt'), keyFile: clientVol.file('tls.key'), reloadIntervalMs: 200 },
    server: { port: 0, host: '127.0.0.1' },
    pollIntervalMs: 100,
    batch: { maxAgeMs: 50 },
    retry: { initialMs: 50, maxMs: 500 },
    unhealthyForMs: 200,
  }));
  const out: string[] = [];
  const child = spawn(process.execPath, [resolve(REPO_ROOT, 'packages/node-collector/src/main.ts'), configPath], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SEXTANT_LOG_LEVEL: 'info' } });
  child.stdout.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  child.stderr.on('data', (d: Buffer) => out.push(d.toString('utf8')));
  const removeKill = onProcessExit(() => child.kill('SIGKILL'));
  cleanups.push(async () => {
    if (child.exitCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    removeKill();
  });
  await until('the collector to start', () => out.join('').includes('sextant-node-collector-ready'), 60_000);
  const statusPort = (JSON.parse(out.join('').split('\n').find((l) => l.includes('sextant-node-collector-ready')) ?? '{}') as { statusPort: number }).statusPort;

  let seq = 0;
  const written: string[] = [];
  const writeLines = async (phase: string, n: number): Promise<string[]> => {
    const lines = Array.from({ length: n }, () => `${phase} line ${seq++}`);
    written.push(...lines);
    await appendFile(logFile, lines.map((l) => `2026-11-24T10:00:00.000000000Z stdout F ${l}\n`).join(''));
    return lines;
  };
  const delivered = async (): Promise<string[]> => exportedResources(await backend.readOutput()).flatMap((r) => r.bodies);
  const logged = (text: string): boolean => out.join('').includes(text);
  const errorsLogged = (): string[] => out.join('').split('\n').filter((l) => l.includes('cannot deliver to enrichment'));

  // 1. The server presents a certificate the collector's CA did not sign: a TLS error, lines held.
  const phase1 = await writeLines('phase1', 50);
  await until('the collector to log the untrusted server certificate', () => errorsLogged().some((l) => l.includes(`not trusted by tls.caFile ${clientVol.file('ca.crt')}`)));
  t.assert.deepEqual((await delivered()).filter((b) => phase1.includes(b)), [], 'nothing passes an untrusted server');
  const retries = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
  t.assert.match(retries, /sextant_node_collector_export_retries_total\{reason="tls"\} [1-9]/);
  // The server certificate is rotated to the right one: picked up by enrichment without a restart, lines shipped.
  await serverVol.publish({ 'tls.crt': server.certFile, 'tls.key': server.keyFile, 'ca.crt': ca.certFile });
  await until('phase 1 lines at the backend', async () => (await delivered()).filter((b) => phase1.includes(b)).length >= phase1.length);
  t.assert.equal(logged('enrichment endpoint accepts batches again'), true, 'the recovery is logged');

  // The hop is mutual: without a client certificate the OTLP route says 401, the probes and /metrics answer.
  t.assert.equal(await probe(port, '/v1/logs', ca.cert, 'POST'), 401);
  for (const path of ['/healthz', '/readyz', '/metrics']) t.assert.equal(await probe(port, path, ca.cert), 200, path);

  // 2. The collector's CA file is replaced by the wrong CA: new connections fail verification; then fixed.
  // The files are checked when a batch is sent, at most every tls.reloadIntervalMs (200 ms): wait that long so
  // the next batch sees the change (a precondition, not a timing assertion).
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 400));
  await clientVol.publish({ 'ca.crt': otherCa.certFile, 'tls.crt': client.certFile, 'tls.key': client.keyFile });
  await settle();
  const before2 = errorsLogged().length;
  const phase2 = await writeLines('phase2', 50);
  await until('a TLS error with the wrong CA', () => errorsLogged().slice(before2).some((l) => l.includes('not trusted by tls.caFile')));
  t.assert.equal(logged('the changed CA / client certificate files are used for new connections'), true, 'the reload is logged');
  t.assert.deepEqual((await delivered()).filter((b) => phase2.includes(b)), [], 'nothing passes while the CA is wrong');
  await clientVol.publish({ 'ca.crt': ca.certFile, 'tls.crt': client.certFile, 'tls.key': client.keyFile });
  await until('phase 2 lines at the backend', async () => (await delivered()).filter((b) => phase2.includes(b)).length >= phase2.length);

  // 3. A client certificate from another CA: enrichment answers 401; the collector keeps the lines (no drop).
  await clientVol.publish({ 'ca.crt': ca.certFile, 'tls.crt': intruder.certFile, 'tls.key': intruder.keyFile });
  await settle();
  const before3 = errorsLogged().length;
  const phase3 = await writeLines('phase3', 50);
  await until('the collector to log the refused client certificate', () => errorsLogged().slice(before3).some((l) => l.includes('enrichment refused this client certificate') && l.includes('SEXTANT_ENRICHMENT_UNAUTHENTICATED')));
  t.assert.deepEqual((await delivered()).filter((b) => phase3.includes(b)), [], 'nothing passes with a refused client certificate');
  await clientVol.publish({ 'ca.crt': ca.certFile, 'tls.crt': client.certFile, 'tls.key': client.keyFile });
  await until('phase 3 lines at the backend', async () => (await delivered()).filter((b) => phase3.includes(b)).length >= phase3.length);

  // Every line arrived, enriched from the pod's metadata; nothing was dropped.
  const resources = exportedResources(await backend.readOutput());
  const bodies = resources.flatMap((r) => r.bodies);
  const missing = written.filter((l) => !bodies.includes(l));
  t.assert.deepEqual(missing, [], 'no line lost');
  const duplicates = bodies.length - new Set(bodies).size;
  for (const l of errorsLogged().slice(0, 3)) t.diagnostic(l.slice(0, 600));
  t.diagnostic(`lines written ${written.length}, delivered ${bodies.length}, duplicates ${duplicates}`);
  for (const r of resources) {
    t.assert.equal(r.attributes.get('k8s.pod.uid'), POD_UID);
    t.assert.equal(r.attributes.get('app'), 'web', 'enriched from the pod labels');
  }
  const metrics = await (await fetch(`http://127.0.0.1:${statusPort}/metrics`)).text();
  t.assert.doesNotMatch(metrics, /sextant_node_collector_dropped_total\{[^}]*\} [1-9]/, 'the collector dropped nothing');
});
