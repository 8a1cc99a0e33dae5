// A real control plane on loopback: etcd + kube-apiserver with RBAC, Node authorization,
// PodSecurity admission and ServiceAccount tokens. No controller-manager, no scheduler, no
// kubelet: objects are stored and admitted, nothing runs them. See TOOLCHAIN.md for the flags.
import { execFile } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { stringify as toYaml } from 'yaml';
import { freePort, onProcessExit, spawnManaged } from './proc.ts';
import type { ManagedProcess } from './proc.ts';
import { ensureTool } from './tools.ts';

const execFileP = promisify(execFile);

export interface StartClusterOptions {
  /** Extra kube-apiserver flags, appended last (so they win over defaults), e.g. audit flags. */
  readonly extraApiServerArgs?: readonly string[];
  /** How long to wait for /readyz. Default 90 000 ms. */
  readonly readyTimeoutMs?: number;
  /** Keep the data dir (certs, logs, etcd data) after stop() for debugging. Default: env SEXTANT_TEST_ENV_KEEP=1. */
  readonly keepData?: boolean;
}

export interface Cluster {
  /** A kubeconfig file for the admin user (client cert in group system:masters). */
  readonly kubeconfigPath: string;
  /** Admin KubeConfig for @kubernetes/client-node: `cluster.adminClient.makeApiClient(CoreV1Api)`. */
  readonly adminClient: KubeConfig;
  /** The API server URL, `https://127.0.0.1:<port>`. */
  readonly server: string;
  /** PEM of the CA that signed the serving certificate. */
  readonly caPem: string;
  /** Temp directory holding certs, logs and etcd data; removed by stop(). */
  readonly dataDir: string;
  /** Mints a ServiceAccount token through the TokenRequest API (valid 1 h). */
  tokenFor(namespace: string, serviceAccount: string): Promise<string>;
  /** Creates a namespace with the given labels and its `default` ServiceAccount (no controller-manager does). */
  createNamespace(name: string, labels?: Record<string, string>): Promise<void>;
  /** Writes a kubeconfig that authenticates with `token` and returns its path. */
  kubeconfigFor(token: string): string;
  /** Kills etcd and the API server (whole process groups) and removes the data dir. Idempotent. */
  stop(): Promise<void>;
}

async function openssl(cwd: string, args: readonly string[]): Promise<void> {
  try {
    await execFileP('openssl', args, { cwd });
  } catch (err) {
    const e = err as Error & { stderr?: string };
    throw new Error(`test-env: openssl ${args.join(' ')} failed: ${e.stderr ?? e.message}`, { cause: err });
  }
}

interface Pki {
  caCert: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  saPub: string;
  saKey: string;
}

async function makePki(dir: string): Promise<Pki> {
  const days = '2';
  // P-256 rather than RSA: key generation is ~instant instead of seconds on a loaded 2-core box.
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'];
  await openssl(dir, ['req', '-x509', ...ec, '-nodes', '-keyout', 'ca.key', '-out', 'ca.crt', '-days', days, '-subj', '/CN=sextant-test-ca']);
  writeFileSync(
    join(dir, 'server.ext'),
    ['subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes.default.svc', 'extendedKeyUsage=serverAuth', 'keyUsage=critical,digitalSignature', ''].join('\n'),
  );
  writeFileSync(join(dir, 'client.ext'), ['extendedKeyUsage=clientAuth', 'keyUsage=critical,digitalSignature', ''].join('\n'));
  const sign = (name: string, ext: string): Promise<void> =>
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', `0x${randomBytes(8).toString('hex')}`, '-out', `${name}.crt`, '-days', days, '-extfile', ext]);
  await Promise.all([
    openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=kube-apiserver']).then(() => sign('server', 'server.ext')),
    openssl(dir, ['req', ...ec, '-nodes', '-keyout', 'admin.key', '-out', 'admin.csr', '-subj', '/O=system:masters/CN=sextant-test-admin']).then(() => sign('admin', 'client.ext')),
  ]);
  // ES256 ServiceAccount tokens: the API server accepts EC signing keys.
  const sa = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  writeFileSync(join(dir, 'sa.key'), sa.privateKey.export({ type: 'pkcs8', format: 'pem' }));
  writeFileSync(join(dir, 'sa.pub'), sa.publicKey.export({ type: 'spki', format: 'pem' }));
  const read = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return {
    caCert: read('ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    adminCert: read('admin.crt'),
    adminKey: read('admin.key'),
    saPub: join(dir, 'sa.pub'),
    saKey: join(dir, 'sa.key'),
  };
}

function getReadyz(server: string, pki: Pki): Promise<{ status: number; body: string }> {
  return new Promise((resolve) => {
    const req = request(
      `${server}/readyz`,
      { ca: pki.caCert, cert: pki.adminCert, key: pki.adminKey, timeout: 2000 },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (body += d));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.end();
  });
}

function kubeconfigYaml(server: string, caPem: string, user: Record<string, string>): string {
  return toYaml({
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name: 'sextant-test', cluster: { server, 'certificate-authority-data': Buffer.from(caPem).toString('base64') } }],
    users: [{ name: 'user', user }],
    contexts: [{ name: 'sextant-test', context: { cluster: 'sextant-test', user: 'user' } }],
    'current-context': 'sextant-test',
  });
}

/** Starts etcd and kube-apiserver on free loopback ports and waits for /readyz. */
export async function startCluster(opts: StartClusterOptions = {}): Promise<Cluster> {
  const [apiserverBin, etcdBin] = await Promise.all([ensureTool('kube-apiserver'), ensureTool('etcd')]);
  const dataDir = mkdtempSync(join(tmpdir(), 'sextant-cluster-'));
  const keep = opts.keepData ?? process.env['SEXTANT_TEST_ENV_KEEP'] === '1';
  const owned = keep ? [] : [dataDir];
  const removeDirOnExit = onProcessExit(() => {
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  });
  const procs: ManagedProcess[] = [];
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    // API server first, so it does not log etcd errors on the way down.
    for (const p of [...procs].reverse()) await p.stop();
    removeDirOnExit();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  };

  try {
    const pki = await makePki(dataDir);
    const [etcdClient, etcdPeer, securePort] = await Promise.all([freePort(), freePort(), freePort()]);
    const etcdUrl = `http://127.0.0.1:${etcdClient}`;
    const peerUrl = `http://127.0.0.1:${etcdPeer}`;
    procs.push(
      spawnManaged(
        'etcd',
        etcdBin.path,
        [
          '--name=default',
          `--data-dir=${join(dataDir, 'etcd')}`,
          `--listen-client-urls=${etcdUrl}`,
          `--advertise-client-urls=${etcdUrl}`,
          `--listen-peer-urls=${peerUrl}`,
          `--initial-advertise-peer-urls=${peerUrl}`,
          `--initial-cluster=default=${peerUrl}`,
          '--log-level=warn',
          // A throwaway store: durability buys nothing here and fsync dominates on slow disks.
          '--unsafe-no-fsync=true',
        ],
        join(dataDir, 'etcd.log'),
        { ownedPaths: owned },
      ),
    );
    const server = `https://127.0.0.1:${securePort}`;
    const apiArgs = [
      `--etcd-servers=${etcdUrl}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${securePort}`,
      `--cert-dir=${join(dataDir, 'certs')}`,
      `--tls-cert-file=${pki.serverCert}`,
      `--tls-private-key-file=${pki.serverKey}`,
      `--client-ca-file=${join(dataDir, 'ca.crt')}`,
      '--authorization-mode=Node,RBAC',
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.saPub}`,
      `--service-account-signing-key-file=${pki.saKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      // Without it the global flag refuses privileged Pods before PodSecurity sees them (TOOLCHAIN.md).
      '--allow-privileged=true',
      // A loopback address cannot be stored in the `kubernetes` Endpoints; skip the reconciler.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      ...(opts.extraApiServerArgs ?? []),
    ];
    const apiserver = spawnManaged('kube-apiserver', apiserverBin.path, apiArgs, join(dataDir, 'kube-apiserver.log'), { ownedPaths: owned });
    procs.push(apiserver);

    const timeoutMs = opts.readyTimeoutMs ?? 90_000;
    const deadline = Date.now() + timeoutMs;
    let last = { status: 0, body: '' };
    for (;;) {
      last = await getReadyz(server, pki);
      if (last.status === 200) break;
      for (const p of procs) {
        if (p.hasExited()) throw new Error(`test-env: ${p.name} exited during startup\n--- ${p.logPath} ---\n${p.logTail()}`);
      }
      if (Date.now() > deadline) {
        throw new Error(`test-env: kube-apiserver not ready after ${timeoutMs} ms (last /readyz: ${last.status} ${last.body})\n--- ${apiserver.logPath} ---\n${apiserver.logTail()}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }

    const kubeconfigPath = join(dataDir, 'admin.kubeconfig');
    writeFileSync(
      kubeconfigPath,
      kubeconfigYaml(server, pki.caCert, {
        'client-certificate-data': Buffer.from(pki.adminCert).toString('base64'),
        'client-key-data': Buffer.from(pki.adminKey).toString('base64'),
      }),
      { mode: 0o600 },
    );
    const adminClient = new KubeConfig();
    adminClient.loadFromFile(kubeconfigPath);
    const core = adminClient.makeApiClient(CoreV1Api);
    let kubeconfigCount = 0;

    return {
      kubeconfigPath,
      adminClient,
      server,
      caPem: pki.caCert,
      dataDir,
      async tokenFor(namespace, serviceAccount) {
        const tr = await core.createNamespacedServiceAccountToken({
          name: serviceAccount,
          namespace,
          body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { audiences: [], expirationSeconds: 3600 } },
        });
        const token = tr.status?.token;
        if (!token) throw new Error(`test-env: TokenRequest for ${namespace}/${serviceAccount} returned no token`);
        return token;
      },
      async createNamespace(name, labels = {}) {
        await core.createNamespace({ body: { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } } });
        await core.createNamespacedServiceAccount({ namespace: name, body: { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'default' } } });
      },
      kubeconfigFor(token) {
        kubeconfigCount += 1;
        const path = join(dataDir, `token-${kubeconfigCount}.kubeconfig`);
        writeFileSync(path, kubeconfigYaml(server, pki.caCert, { token }), { mode: 0o600 });
        return path;
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
