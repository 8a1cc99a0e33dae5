// The `tls` key: validation, and HTTPS to static endpoints (IP SAN, serverName override, a wrong name) against
// a real HTTPS server on loopback that requires a client certificate. The headless-Service path, rotation and
// the enrichment service itself are covered end to end in test/enrichment/mtls-hop.test.ts.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { TLSSocket } from 'node:tls';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNodeCollector, resolveConfig } from '../src/index.ts';
import { createTestPki } from '../../../test/env/pki.ts';
import type { TestCa, TestCert } from '../../../test/env/pki.ts';
import { tempDir, testConfig, waitFor } from './helpers/util.ts';

void test('tls config: {} turns HTTPS on; certFile and keyFile go together; errors name the key, value and valid choices', (t) => {
  const base = { endpoints: ['127.0.0.1:24321'] };
  t.assert.equal(resolveConfig(base, {}).tls, undefined, 'no tls key: plain HTTP');
  t.assert.deepEqual(resolveConfig({ ...base, tls: {} }, {}).tls, { caFile: undefined, certFile: undefined, keyFile: undefined, serverName: undefined, insecureSkipVerify: false, reloadIntervalMs: 10000 });
  const snake = resolveConfig({ ...base, tls: { ca_file: '/tls/ca.crt', cert_file: '/tls/tls.crt', key_file: '/tls/tls.key', server_name: 'enrichment' } }, {}).tls;
  t.assert.deepEqual([snake?.caFile, snake?.certFile, snake?.keyFile, snake?.serverName], ['/tls/ca.crt', '/tls/tls.crt', '/tls/tls.key', 'enrichment']);
  t.assert.throws(() => resolveConfig({ ...base, tls: { certFile: '/tls/tls.crt' } }, {}), /tls\.certFile="\/tls\/tls\.crt"; valid: set together with tls\.keyFile/);
  t.assert.throws(() => resolveConfig({ ...base, tls: { keyFile: '/tls/tls.key' } }, {}), /tls\.keyFile="\/tls\/tls\.key"; valid: set together with tls\.certFile/);
  t.assert.throws(() => resolveConfig({ ...base, tls: { ca: '/x' } }, {}), /tls\.ca="\/x"; valid: one of the keys caFile, certFile, keyFile, serverName, insecureSkipVerify, reloadIntervalMs/);
  t.assert.throws(() => resolveConfig({ ...base, tls: { insecureSkipVerify: 'yes' } }, {}), /tls\.insecureSkipVerify="yes"; valid: true, false/);
  t.assert.throws(() => resolveConfig({ ...base, tls: 'on' }, {}), /tls="on"; valid: a mapping of caFile/);
  t.assert.throws(() => resolveConfig({ ...base, tls: { caFile: '' } }, {}), /tls\.caFile=""; valid: a non-empty string/);
});

interface Receiver {
  endpoint: string;
  bodies: number;
  /** Common names of the client certificates seen. */
  clients: Set<string>;
}

/** An HTTPS server that refuses clients without a certificate from `ca` at the handshake and answers 200. */
async function startHttps(t: TestContext, server: TestCert, ca: TestCa): Promise<Receiver> {
  const r: Receiver = { endpoint: '', bodies: 0, clients: new Set() };
  const srv = createServer({ cert: server.cert, key: server.key, ca: ca.cert, requestCert: true, rejectUnauthorized: true }, (req, res) => {
    req.resume();
    req.on('end', () => {
      r.bodies++;
      r.clients.add(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => {
    srv.closeAllConnections();
    srv.close(() => resolve());
  }));
  r.endpoint = `127.0.0.1:${(srv.address() as AddressInfo).port}`;
  return r;
}

async function logTree(t: TestContext): Promise<{ root: string; ckpt: string; file: string }> {
  const root = await tempDir(t, 'nc-tls-root-');
  const ckpt = await tempDir(t, 'nc-tls-ckpt-');
  const dir = join(root, 'ns_p_u1', 'c');
  await mkdir(dir, { recursive: true });
  const file = join(dir, '0.log');
  await writeFile(file, Array.from({ length: 20 }, (_, i) => `2026-11-24T06:15:00.000000001Z stdout F line ${i}\n`).join(''));
  return { root, ckpt, file };
}

void test('HTTPS to static endpoints: an IP SAN verifies by address, tls.serverName overrides the name, a wrong name is a logged TLS error and nothing is dropped', async (t) => {
  const dir = await tempDir(t, 'nc-tls-pki-');
  const pki = createTestPki(dir);
  const ca = await pki.ca('hop-ca');
  const [byIp, byName, client] = await Promise.all([
    pki.leaf(ca, 'by-ip', { server: { ips: ['127.0.0.1'] } }),
    pki.leaf(ca, 'by-name', { server: { dns: ['enrichment.sextant.svc'] } }),
    pki.leaf(ca, 'node-a', { client: true }),
  ]);
  const tls = { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile };

  const ipServer = await startHttps(t, byIp, ca);
  const a = await logTree(t);
  const c1 = createNodeCollector(testConfig(a.root, a.ckpt, [ipServer.endpoint], { tls }));
  await c1.start();
  t.after(() => c1.shutdown());
  await waitFor(() => ipServer.bodies > 0, 15000, 'a batch over HTTPS by IP');
  t.assert.deepEqual([...ipServer.clients], ['node-a'], 'the client certificate was presented');

  const nameServer = await startHttps(t, byName, ca);
  const b = await logTree(t);
  const c2 = createNodeCollector(testConfig(b.root, b.ckpt, [nameServer.endpoint], { tls: { ...tls, serverName: 'enrichment.sextant.svc' } }));
  await c2.start();
  t.after(() => c2.shutdown());
  await waitFor(() => nameServer.bodies > 0, 15000, 'a batch verified against tls.serverName');

  // Without serverName the address is checked, which the certificate does not name.
  const lines: string[] = [];
  const logger = pino({ level: 'info' }, new Writable({
    write(chunk: Buffer, _e, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  }));
  const cTree = await logTree(t);
  const before = nameServer.bodies;
  const c3 = createNodeCollector(testConfig(cTree.root, cTree.ckpt, [nameServer.endpoint], { tls }), { logger, shutdownTimeoutMs: 500 });
  await c3.start();
  t.after(() => c3.shutdown());
  await waitFor(() => lines.some((l) => l.includes('cannot deliver to enrichment')), 15000, 'the TLS error to be logged');
  const logged = lines.find((l) => l.includes('cannot deliver to enrichment')) ?? '';
  t.assert.match(logged, /tls: the enrichment certificate is not valid for the name 127\.0\.0\.1 \(set tls\.serverName, or add 127\.0\.0\.1 to the certificate's SANs\): ERR_TLS_CERT_ALTNAME_INVALID/);
  t.assert.equal(nameServer.bodies, before, 'nothing was sent to a server whose name does not verify');
  t.assert.equal(c3.files().every((f) => f.committedOffset === 0), true, 'the checkpoint did not move: the lines are kept');
});
