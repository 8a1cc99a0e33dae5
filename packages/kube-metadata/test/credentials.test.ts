// The credentials reader without client-node: kubeconfig variants, in-cluster files, token files
// re-read per request, and errors that name the file and the key.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { promisify } from 'node:util';
import { createKubeTransport, isKubeMetadataError, loadKubeCredentials } from '@sextant/kube-metadata';
import { stringify } from 'yaml';

const execFileP = promisify(execFile);

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'km-creds-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

let pemCache: Promise<{ cert: string; key: string }> | undefined;
/** A real self-signed certificate and key (openssl), so PEM checks see the real thing. */
function testPem(): Promise<{ cert: string; key: string }> {
  pemCache ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'km-pem-'));
    try {
      await execFileP('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', 'k.pem', '-out', 'c.pem', '-days', '1', '-subj', '/CN=km-test'], { cwd: dir });
      const { readFile } = await import('node:fs/promises');
      return { cert: await readFile(join(dir, 'c.pem'), 'utf8'), key: await readFile(join(dir, 'k.pem'), 'utf8') };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  })();
  return pemCache;
}

interface KubeconfigInput {
  clusters?: Array<{ name: string; cluster: Record<string, unknown> }>;
  users?: Array<{ name: string; user: Record<string, unknown> }>;
  contexts?: Array<{ name: string; context: Record<string, unknown> }>;
  current?: string;
}

async function kubeconfig(dir: string, k: KubeconfigInput, name = 'kubeconfig'): Promise<string> {
  const path = join(dir, name);
  await writeFile(
    path,
    stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: k.clusters ?? [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443/' } }],
      users: k.users ?? [{ name: 'u', user: { token: 'tok' } }],
      contexts: k.contexts ?? [{ name: 'main', context: { cluster: 'c', user: 'u' } }],
      ...(k.current === undefined ? { 'current-context': 'main' } : k.current === '' ? {} : { 'current-context': k.current }),
    }),
  );
  return path;
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

void test('kubeconfig: current context, CA/cert/key as data, token; a named context picks its own cluster, user and namespace', async (t: TestContext) => {
  const dir = await tempDir(t);
  const { cert, key } = await testPem();
  const path = await kubeconfig(dir, {
    clusters: [
      { name: 'prod', cluster: { server: 'https://10.0.0.1:6443/', 'certificate-authority-data': b64(cert), 'tls-server-name': 'kubernetes.default.svc' } },
      { name: 'dev', cluster: { server: 'http://127.0.0.1:8080', 'insecure-skip-tls-verify': true } },
    ],
    users: [
      { name: 'admin', user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(key) } },
      { name: 'dev', user: { token: 'dev-token' } },
    ],
    contexts: [
      { name: 'prod', context: { cluster: 'prod', user: 'admin' } },
      { name: 'dev', context: { cluster: 'dev', user: 'dev', namespace: 'team-a' } },
    ],
    current: 'prod',
  });
  const cur = loadKubeCredentials({ kind: 'kubeconfig', path });
  t.assert.equal(cur.server, 'https://10.0.0.1:6443');
  t.assert.equal(cur.tls.ca, cert);
  t.assert.equal(cur.tls.cert, cert);
  t.assert.equal(cur.tls.key, key);
  t.assert.equal(cur.tls.servername, 'kubernetes.default.svc');
  t.assert.equal(cur.tls.rejectUnauthorized, true);
  t.assert.deepEqual(cur.auth, { kind: 'none' });
  t.assert.equal(cur.namespace, undefined);
  t.assert.match(cur.origin, /context prod/);

  const dev = loadKubeCredentials({ kind: 'kubeconfig', path, context: 'dev' });
  t.assert.equal(dev.server, 'http://127.0.0.1:8080');
  t.assert.equal(dev.tls.rejectUnauthorized, false);
  t.assert.equal(dev.tls.ca, undefined);
  t.assert.deepEqual(dev.auth, { kind: 'token', token: 'dev-token' });
  t.assert.equal(dev.namespace, 'team-a');
});

void test('kubeconfig: certificate-authority, client-certificate, client-key and tokenFile as files, relative to the kubeconfig', async (t: TestContext) => {
  const dir = await tempDir(t);
  const { cert, key } = await testPem();
  await writeFile(join(dir, 'ca.crt'), cert);
  await writeFile(join(dir, 'client.crt'), cert);
  await writeFile(join(dir, 'client.key'), key);
  await writeFile(join(dir, 'token'), 'file-token\n');
  const path = await kubeconfig(dir, {
    clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:6443', 'certificate-authority': 'ca.crt' } }],
    users: [{ name: 'u', user: { 'client-certificate': 'client.crt', 'client-key': join(dir, 'client.key'), tokenFile: 'token', token: 'ignored-once-the-file-reads' } }],
  });
  const c = loadKubeCredentials({ kind: 'kubeconfig', path });
  t.assert.equal(c.tls.ca, cert);
  t.assert.equal(c.tls.cert, cert);
  t.assert.equal(c.tls.key, key);
  t.assert.deepEqual(c.auth, { kind: 'token-file', path: join(dir, 'token'), fallback: 'ignored-once-the-file-reads' });
});

void test('kubeconfig: exec, auth-provider and proxy-url users are handed to client-node; basic auth is read', async (t: TestContext) => {
  const dir = await tempDir(t);
  const path = await kubeconfig(dir, {
    clusters: [
      { name: 'c', cluster: { server: 'https://127.0.0.1:6443' } },
      { name: 'proxied', cluster: { server: 'https://127.0.0.1:6443', 'proxy-url': 'http://proxy:3128' } },
    ],
    users: [
      { name: 'exec', user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: 'aws', args: ['eks', 'get-token'] } } },
      { name: 'oidc', user: { 'auth-provider': { name: 'oidc', config: {} } } },
      { name: 'basic', user: { username: 'alice', password: 's3cret' } },
      { name: 'tok', user: { token: 't' } },
    ],
    contexts: [
      { name: 'exec', context: { cluster: 'c', user: 'exec' } },
      { name: 'oidc', context: { cluster: 'c', user: 'oidc' } },
      { name: 'basic', context: { cluster: 'c', user: 'basic' } },
      { name: 'proxied', context: { cluster: 'proxied', user: 'tok' } },
    ],
    current: 'exec',
  });
  t.assert.deepEqual(loadKubeCredentials({ kind: 'kubeconfig', path }).auth, { kind: 'client-node', reason: 'exec' });
  t.assert.deepEqual(loadKubeCredentials({ kind: 'kubeconfig', path, context: 'oidc' }).auth, { kind: 'client-node', reason: 'auth-provider' });
  t.assert.deepEqual(loadKubeCredentials({ kind: 'kubeconfig', path, context: 'proxied' }).auth, { kind: 'client-node', reason: 'proxy-url' });
  t.assert.deepEqual(loadKubeCredentials({ kind: 'kubeconfig', path, context: 'basic' }).auth, { kind: 'basic', username: 'alice', password: 's3cret' });
});

void test('bad kubeconfigs fail with SEXTANT_KUBE_KUBECONFIG naming the file and the key', async (t: TestContext) => {
  const dir = await tempDir(t);
  const { cert } = await testPem();
  const fails = (path: string, pattern: RegExp, context?: string): void => {
    t.assert.throws(
      () => loadKubeCredentials({ kind: 'kubeconfig', path, ...(context === undefined ? {} : { context }) }),
      (e: unknown) => {
        t.assert.ok(isKubeMetadataError(e, 'SEXTANT_KUBE_KUBECONFIG'), String(e));
        t.assert.ok(e.message.includes(path), `${e.message} names ${path}`);
        t.assert.match(e.message, pattern);
        return true;
      },
    );
  };
  fails(join(dir, 'missing'), /cannot be read \(ENOENT\)/);
  await writeFile(join(dir, 'bad-yaml'), 'clusters: [\n');
  fails(join(dir, 'bad-yaml'), /not YAML/);
  fails(await kubeconfig(dir, { current: '' }, 'no-current'), /current-context is not set/);
  fails(await kubeconfig(dir, {}, 'ctx'), /contexts: no entry named "staging"; valid: main/, 'staging');
  fails(await kubeconfig(dir, { contexts: [{ name: 'main', context: { cluster: 'gone', user: 'u' } }] }, 'no-cluster'), /clusters: no entry named "gone"; valid: c/);
  fails(await kubeconfig(dir, { clusters: [{ name: 'c', cluster: {} }] }, 'no-server'), /clusters\["c"\]\.cluster\.server is not set/);
  fails(await kubeconfig(dir, { clusters: [{ name: 'c', cluster: { server: 'ftp://x' } }] }, 'bad-server'), /server is "ftp:\/\/x"; valid: an http\(s\) URL/);
  fails(await kubeconfig(dir, { clusters: [{ name: 'c', cluster: { server: 'https://x', 'certificate-authority': 'nope.crt' } }] }, 'ca-missing'), /certificate-authority .*nope\.crt cannot be read \(ENOENT\)/);
  fails(await kubeconfig(dir, { clusters: [{ name: 'c', cluster: { server: 'https://x', 'certificate-authority-data': b64('garbage') } }] }, 'ca-garbage'), /certificate-authority-data is not a PEM certificate/);
  fails(await kubeconfig(dir, { clusters: [{ name: 'c', cluster: { server: 'https://x', 'insecure-skip-tls-verify': 'yes' } }] }, 'skip-str'), /insecure-skip-tls-verify is "yes"; valid: true or false/);
  fails(await kubeconfig(dir, { users: [{ name: 'u', user: { 'client-certificate-data': b64(cert) } }] }, 'no-key'), /users\["u"\]\.user: client-certificate and client-key go together/);
  fails(await kubeconfig(dir, { users: [{ name: 'u', user: { 'client-certificate-data': b64(cert), 'client-key-data': b64(cert) } }] }, 'key-is-cert'), /client-key-data is not a PEM private key/);
  fails(await kubeconfig(dir, { users: [{ name: 'u', user: { tokenFile: 'no-token' } }] }, 'token-missing'), /tokenFile .*no-token cannot be read/);
  fails(await kubeconfig(dir, { users: [{ name: 'u', user: { token: 42 } }] }, 'token-num'), /users\["u"\]\.user\.token is 42; valid: a string/);
});

void test('in-cluster: server from KUBERNETES_SERVICE_HOST/PORT (IPv6 bracketed), CA and namespace files; missing pieces are named', async (t: TestContext) => {
  const dir = await tempDir(t);
  const { cert } = await testPem();
  const sa = join(dir, 'sa');
  const { mkdir } = await import('node:fs/promises');
  await mkdir(sa);
  const env = { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '443' };
  t.assert.throws(() => loadKubeCredentials({ kind: 'in-cluster' }, { env: {}, serviceAccountDir: sa }), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_NOT_IN_CLUSTER') && /KUBERNETES_SERVICE_HOST/.test(e.message));
  t.assert.throws(
    () => loadKubeCredentials({ kind: 'in-cluster' }, { env, serviceAccountDir: sa }),
    (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_NOT_IN_CLUSTER') && e.message.includes(join(sa, 'token')) && /ENOENT/.test(e.message),
  );
  await writeFile(join(sa, 'token'), 'sa-token');
  t.assert.throws(() => loadKubeCredentials({ kind: 'in-cluster' }, { env, serviceAccountDir: sa }), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_NOT_IN_CLUSTER') && e.message.includes(join(sa, 'ca.crt')));
  await writeFile(join(sa, 'ca.crt'), cert);
  await writeFile(join(sa, 'namespace'), 'observability\n');
  const c = loadKubeCredentials({ kind: 'in-cluster' }, { env, serviceAccountDir: sa });
  t.assert.equal(c.server, 'https://[fd00::1]:443');
  t.assert.equal(c.tls.ca, cert);
  t.assert.equal(c.namespace, 'observability');
  t.assert.deepEqual(c.auth, { kind: 'token-file', path: join(sa, 'token') });
  t.assert.equal(loadKubeCredentials({ kind: 'in-cluster' }, { env: { KUBERNETES_SERVICE_HOST: '10.96.0.1', KUBERNETES_SERVICE_PORT: '443' }, serviceAccountDir: sa }).server, 'https://10.96.0.1:443');
});

void test('transport: a token file is re-read per request (a rotated token is used at once; a vanished file keeps the last good one)', async (t: TestContext) => {
  const dir = await tempDir(t);
  const seen: Array<{ auth: string | undefined; accept: string | undefined; url: string | undefined; method: string | undefined; body: string }> = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      seen.push({ auth: req.headers.authorization, accept: req.headers.accept, url: req.url, method: req.method, body });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"kind":"Status"}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => server.close(() => r())));
  const port = (server.address() as AddressInfo).port;
  await writeFile(join(dir, 'token'), 'first\n');
  const path = await kubeconfig(dir, { clusters: [{ name: 'c', cluster: { server: `http://127.0.0.1:${port}` } }], users: [{ name: 'u', user: { tokenFile: 'token' } }] });
  const transport = createKubeTransport({ kind: 'kubeconfig', path });
  t.after(() => transport.close());
  const get = async (): Promise<void> => {
    const res = await transport.request({ path: '/api/v1/pods', query: { limit: '1' }, accept: 'application/json;as=Table' });
    t.assert.equal(res.status, 200);
    t.assert.equal(await res.text(), '{"kind":"Status"}');
  };
  await get();
  await writeFile(join(dir, 'token'), 'second\n');
  await get();
  await rm(join(dir, 'token'));
  await get();
  const put = await transport.request({ method: 'PUT', path: '/apis/coordination.k8s.io/v1/namespaces/x/leases/y', body: '{"a":1}' });
  put.discard();
  t.assert.deepEqual(
    seen.map((s) => s.auth),
    ['Bearer first', 'Bearer second', 'Bearer second', 'Bearer second'],
  );
  t.assert.equal(seen[0]?.url, '/api/v1/pods?limit=1');
  t.assert.equal(seen[0]?.accept, 'application/json;as=Table');
  t.assert.equal(seen[3]?.method, 'PUT');
  t.assert.equal(seen[3]?.body, '{"a":1}');
});
