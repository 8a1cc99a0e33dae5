// Against the real kube-apiserver + etcd from @sextant/test-env: informers see adds, updates and deletes;
// the cache runs as a ServiceAccount with exactly the RBAC it needs; a forced relist on 410 keeps it correct.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, connect } from 'node:net';
import type { AddressInfo, Server, Socket } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { AppsV1Api, BatchV1Api, CoreV1Api, KubeConfig, RbacAuthorizationV1Api, Watch } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { createKubeTransport, createMetadataCache, isKubeMetadataError, loadKubeCredentials } from '@sextant/kube-metadata';
import type { KubeMetadataError, KubeTransport, MetadataCache, MetadataCacheOptions } from '@sextant/kube-metadata';
import { startCluster } from '@sextant/test-env';
import type { Cluster } from '@sextant/test-env';
import { parse, stringify } from 'yaml';
import { eventually } from './fixtures.ts';

const TIMEOUT = { timeout: 300_000 };

function podBody(name: string, opts: { labels?: Record<string, string>; owner?: { apiVersion: string; kind: string; name: string; uid: string }; annotations?: Record<string, string> } = {}): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      labels: opts.labels ?? { app: name },
      ...(opts.annotations === undefined ? {} : { annotations: opts.annotations }),
      ...(opts.owner === undefined ? {} : { ownerReferences: [{ ...opts.owner, controller: true }] }),
    },
    // nodeName set directly: there is no scheduler. Deletes use grace 0: there is no kubelet.
    spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'ghcr.io/example/app:1.4.2' }] },
  };
}

async function setRunning(core: CoreV1Api, ns: string, name: string, ip: string, containerId: string): Promise<void> {
  const pod = await core.readNamespacedPod({ name, namespace: ns });
  const now = new Date();
  pod.status = {
    phase: 'Running',
    hostIP: '10.0.0.1',
    hostIPs: [{ ip: '10.0.0.1' }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: now,
    containerStatuses: [
      {
        name: 'app',
        image: 'ghcr.io/example/app:1.4.2',
        imageID: 'ghcr.io/example/app@sha256:' + 'a'.repeat(64),
        containerID: `containerd://${containerId}`,
        ready: true,
        restartCount: 0,
        started: true,
        state: { running: { startedAt: now } },
      },
    ],
  };
  await core.replaceNamespacedPodStatus({ name, namespace: ns, body: pod });
}

async function startCache(t: TestContext, opts: MetadataCacheOptions): Promise<MetadataCache> {
  const cache = createMetadataCache(opts);
  t.after(() => cache.shutdown());
  await cache.start();
  return cache;
}

// The shared cluster writes an audit log, so tests can check which requests the cache really made.
const auditDir = mkdtempSync(join(tmpdir(), 'km-audit-'));
const auditLog = join(auditDir, 'audit.log');
writeFileSync(join(auditDir, 'policy.yaml'), 'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n');
let shared: Promise<Cluster> | undefined;
function cluster(): Promise<Cluster> {
  shared ??= startCluster({ extraApiServerArgs: [`--audit-policy-file=${join(auditDir, 'policy.yaml')}`, `--audit-log-path=${auditLog}`] });
  return shared;
}
test.after(async () => {
  if (shared !== undefined) await (await shared).stop();
  rmSync(auditDir, { recursive: true, force: true });
});

interface AuditEvent {
  stage: string;
  verb: string;
  requestURI: string;
  user: { username: string };
  objectRef?: { resource?: string };
}
function auditedBy(user: string): AuditEvent[] {
  return readFileSync(auditLog, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.user.username === user);
}

void test('informers see adds, updates and deletes of real objects; owners resolve through the RS and Job caches', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  const core = c.adminClient.makeApiClient(CoreV1Api);
  const apps = c.adminClient.makeApiClient(AppsV1Api);
  const batch = c.adminClient.makeApiClient(BatchV1Api);
  await c.createNamespace('km-shop');
  const errors: KubeMetadataError[] = [];
  const cache = await startCache(t, { source: { kind: 'kubeconfig', path: c.kubeconfigPath }, clusterName: 'test', onError: (e) => errors.push(e) });
  t.assert.equal(await cache.waitForSync(60_000), true);

  const template = { metadata: { labels: { app: 'web' } }, spec: { containers: [{ name: 'app', image: 'ghcr.io/example/app:1.4.2' }] } };
  const dep = await apps.createNamespacedDeployment({ namespace: 'km-shop', body: { metadata: { name: 'web' }, spec: { selector: { matchLabels: { app: 'web' } }, template } } });
  const rs = await apps.createNamespacedReplicaSet({
    namespace: 'km-shop',
    body: {
      metadata: { name: 'web-6b7f9c8d4', labels: { app: 'web', 'pod-template-hash': '6b7f9c8d4' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: 'web', uid: dep.metadata?.uid ?? '', controller: true }] },
      spec: { selector: { matchLabels: { app: 'web' } }, template },
    },
  });
  const jobTemplate = { spec: { template: { spec: { restartPolicy: 'Never', containers: [{ name: 'job', image: 'busybox:1.36' }] } } } };
  const cj = await batch.createNamespacedCronJob({ namespace: 'km-shop', body: { metadata: { name: 'report' }, spec: { schedule: '0 * * * *', jobTemplate } } });
  const job = await batch.createNamespacedJob({
    namespace: 'km-shop',
    body: { metadata: { name: 'report-29391840', ownerReferences: [{ apiVersion: 'batch/v1', kind: 'CronJob', name: 'report', uid: cj.metadata?.uid ?? '', controller: true }] }, spec: jobTemplate.spec },
  });
  await eventually(() => cache.stats().replicaSets >= 1 && cache.stats().jobs >= 1, 30_000, 'owner caches');

  // The pod arrives while a lookup is already waiting for it.
  const waiting = cache.waitForPod({ namespace: 'km-shop', name: 'web-6b7f9c8d4-x2x9z' }, 30_000);
  const created = await core.createNamespacedPod({
    namespace: 'km-shop',
    body: podBody('web-6b7f9c8d4-x2x9z', { labels: { app: 'web', 'pod-template-hash': '6b7f9c8d4' }, owner: { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'web-6b7f9c8d4', uid: rs.metadata?.uid ?? '' } }),
  });
  const uid = created.metadata?.uid ?? '';
  t.assert.equal((await waiting)?.uid, uid);
  const attrs = Object.fromEntries(cache.attributesFor(cache.getPod({ uid })!, 'app'));
  t.assert.equal(attrs['k8s.deployment.name'], 'web');
  t.assert.equal(attrs['k8s.replicaset.name'], 'web-6b7f9c8d4');
  t.assert.equal(attrs['service.name'], 'web');
  t.assert.equal(attrs['container.image.tag'], '1.4.2');
  t.assert.equal(attrs['k8s.cluster.name'], 'test');

  // Update: the pod starts running with an IP and a container ID.
  await setRunning(core, 'km-shop', 'web-6b7f9c8d4-x2x9z', '10.20.0.7', 'c'.repeat(64));
  await eventually(() => cache.getPod({ ip: '10.20.0.7' })?.uid === uid, 30_000, 'IP index after status update');
  t.assert.equal(cache.getPod({ containerId: `containerd://${'c'.repeat(64)}` })?.uid, uid);
  t.assert.match(cache.getPod({ uid })?.startTime ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

  // A Job pod resolves to its CronJob through the cached Job.
  const jp = await core.createNamespacedPod({ namespace: 'km-shop', body: podBody('report-29391840-7k8j9', { owner: { apiVersion: 'batch/v1', kind: 'Job', name: 'report-29391840', uid: job.metadata?.uid ?? '' } }) });
  const jpod = await cache.waitForPod({ uid: jp.metadata?.uid ?? '' }, 30_000);
  t.assert.equal(Object.fromEntries(cache.attributesFor(jpod!))['k8s.cronjob.name'], 'report');

  // Delete: the pod stays answerable (grace period) but no longer owns its IP.
  await core.deleteNamespacedPod({ name: 'web-6b7f9c8d4-x2x9z', namespace: 'km-shop', gracePeriodSeconds: 0 });
  await eventually(() => cache.getPod({ uid })?.deletedAt !== undefined, 30_000, 'delete event');
  t.assert.equal(cache.getPod({ ip: '10.20.0.7' }), undefined);
  t.assert.equal(cache.getPod({ namespace: 'km-shop', name: 'web-6b7f9c8d4-x2x9z' })?.uid, uid);

  // Namespace exclusion arrives through the namespace informer.
  await c.createNamespace('km-quiet');
  const ns = await core.readNamespace({ name: 'km-quiet' });
  ns.metadata = { ...ns.metadata, annotations: { 'sextant.io/exclude': 'true' } };
  await core.replaceNamespace({ name: 'km-quiet', body: ns });
  const qp = await core.createNamespacedPod({ namespace: 'km-quiet', body: podBody('quiet') });
  const quiet = await cache.waitForPod({ uid: qp.metadata?.uid ?? '' }, 30_000);
  await eventually(() => cache.getNamespace('km-quiet')?.annotations?.['sextant.io/exclude'] === 'true', 30_000, 'namespace annotation');
  t.assert.equal(cache.isExcluded(quiet!), true);
  t.assert.deepEqual(errors.map((e) => e.code), []);
});

async function serviceAccountKubeconfig(c: Cluster, name: string, rules: Array<{ apiGroups: string[]; resources: string[] }>): Promise<string> {
  const rbac = c.adminClient.makeApiClient(RbacAuthorizationV1Api);
  const core = c.adminClient.makeApiClient(CoreV1Api);
  await c.createNamespace(name);
  await core.createNamespacedServiceAccount({ namespace: name, body: { metadata: { name: 'metadata' } } });
  await rbac.createClusterRole({ body: { metadata: { name }, rules: rules.map((r) => ({ ...r, verbs: ['get', 'list', 'watch'] })) } });
  await rbac.createClusterRoleBinding({
    body: { metadata: { name }, roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name }, subjects: [{ kind: 'ServiceAccount', name: 'metadata', namespace: name }] },
  });
  return c.kubeconfigFor(await c.tokenFor(name, 'metadata'));
}

void test('as a ServiceAccount with get/list/watch on exactly pods, namespaces, nodes, replicasets, jobs: syncs; Secrets are forbidden', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  const kubeconfig = await serviceAccountKubeconfig(c, 'km-rbac-full', [
    { apiGroups: [''], resources: ['pods', 'namespaces', 'nodes'] },
    { apiGroups: ['apps'], resources: ['replicasets'] },
    { apiGroups: ['batch'], resources: ['jobs'] },
  ]);
  const errors: KubeMetadataError[] = [];
  const cache = await startCache(t, { source: { kind: 'kubeconfig', path: kubeconfig }, informers: { nodes: true }, onError: (e) => errors.push(e) });
  t.assert.equal(await cache.waitForSync(60_000), true);
  t.assert.deepEqual(errors.map((e) => e.code), []);
  t.assert.ok(cache.getNamespace('km-rbac-full') !== undefined);

  // What the API server saw from this ServiceAccount: per kind, LIST with resourceVersion=0 (from the
  // watch cache), then exactly one WATCH with bookmarks.
  const kinds = ['pods', 'namespaces', 'nodes', 'replicasets', 'jobs'];
  let events: AuditEvent[] = [];
  await eventually(() => {
    events = auditedBy('system:serviceaccount:km-rbac-full:metadata');
    return kinds.every((k) => events.some((e) => e.verb === 'watch' && e.objectRef?.resource === k));
  }, 30_000, 'audit events of every watch');
  for (const k of kinds) {
    const lists = events.filter((e) => e.verb === 'list' && e.objectRef?.resource === k && e.stage === 'ResponseComplete');
    const watches = events.filter((e) => e.verb === 'watch' && e.objectRef?.resource === k && e.stage === 'ResponseStarted');
    t.assert.equal(lists.length, 1, `${k}: one LIST`);
    t.assert.match(lists[0]?.requestURI ?? '', /[?&]resourceVersion=0(&|$)/, `${k}: LIST from the watch cache`);
    t.assert.equal(watches.length, 1, `${k}: one WATCH`);
    t.assert.match(watches[0]?.requestURI ?? '', /[?&]allowWatchBookmarks=true(&|$)/, `${k}: WATCH with bookmarks`);
  }
  t.assert.ok(events.every((e) => kinds.includes(e.objectRef?.resource ?? '')), 'no other resource was touched');

  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const err = await kc
    .makeApiClient(CoreV1Api)
    .listSecretForAllNamespaces()
    .then(
      () => undefined,
      (e: unknown) => e as { code?: number; body?: string },
    );
  t.assert.equal(err?.code, 403, 'the same token must not read Secrets');
});

void test('with a feature turned off, RBAC shrinks: no jobs/replicasets rights is a coded FORBIDDEN until owners are off', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  const kubeconfig = await serviceAccountKubeconfig(c, 'km-rbac-pods', [{ apiGroups: [''], resources: ['pods', 'namespaces'] }]);
  const errors: KubeMetadataError[] = [];
  const withOwners = await startCache(t, { source: { kind: 'kubeconfig', path: kubeconfig }, backoff: { initialMs: 200, maxMs: 1000 }, onError: (e) => errors.push(e) });
  await eventually(() => errors.some((e) => e.code === 'SEXTANT_KUBE_FORBIDDEN' && /jobs/.test(e.message)), 30_000, 'FORBIDDEN on jobs');
  t.assert.equal(withOwners.synced, false, 'not ready while an enabled kind cannot be listed');
  await withOwners.shutdown();
  const lean = await startCache(t, { source: { kind: 'kubeconfig', path: kubeconfig }, informers: { owners: false } });
  t.assert.equal(await lean.waitForSync(60_000), true);
});

void test('after shutdown() no handle keeps the process alive: a child that synced exits by itself', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  const child = spawn(process.execPath, [fileURLToPath(new URL('./fixtures/exit-child.ts', import.meta.url)), c.kubeconfigPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  // Generous bound: this is "does it exit at all", not a timing assertion. Left alive, it would hang here.
  const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const [code, signal] = (await once(child, 'exit')) as [number | null, string | null];
  clearTimeout(killer);
  t.assert.equal(signal, null, 'the child had to be killed: something kept it alive after shutdown()');
  t.assert.equal(code, 0);
  t.assert.deepEqual(JSON.parse(out), { synced: true, pending: true });
});

/** A TCP proxy in front of the API server that the test can cut, to force a reconnect. */
async function tcpProxy(t: TestContext, target: number): Promise<{ port: number; active: () => number; sever: () => void; resume: () => void }> {
  const sockets = new Set<Socket>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = connect(target, '127.0.0.1');
    sockets.add(client);
    client.on('close', () => sockets.delete(client));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream).pipe(client);
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  t.after(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return {
    port: (server.address() as AddressInfo).port,
    active: () => sockets.size,
    sever: () => {
      open = false;
      for (const s of sockets) s.destroy();
    },
    resume: () => {
      open = true;
    },
  };
}

/** Resolves with the status code of the first ERROR event of a pod watch from `rv`, or 0. */
function watchErrorCode(kc: KubeConfig, rv: string): Promise<number> {
  return new Promise((resolve) => {
    let code = 0;
    void new Watch(kc).watch(
      '/api/v1/pods',
      { resourceVersion: rv },
      (type, obj: { code?: number }) => {
        if (type === 'ERROR') code = obj.code ?? 0;
      },
      () => resolve(code),
    ).then((ctl) => setTimeout(() => ctl.abort(), 3000));
  });
}

void test('a forced relist after 410 Gone (etcd compacted past the cache) keeps the cache correct', TIMEOUT, async (t: TestContext) => {
  // Without the watch cache, watches are served by etcd, so a compacted resourceVersion is a real 410.
  const c = await startCluster({ extraApiServerArgs: ['--watch-cache=false', '--etcd-compaction-interval=2s'] });
  t.after(() => c.stop());
  const core = c.adminClient.makeApiClient(CoreV1Api);
  await c.createNamespace('km-gone');
  const proxy = await tcpProxy(t, Number(new URL(c.server).port));
  const kc = parse(readFileSync(c.kubeconfigPath, 'utf8')) as { clusters: Array<{ cluster: { server: string } }> };
  for (const cl of kc.clusters) cl.cluster.server = `https://127.0.0.1:${proxy.port}`;
  const viaProxy = join(c.dataDir, 'proxy.kubeconfig');
  writeFileSync(viaProxy, stringify(kc), { mode: 0o600 });

  const cache = await startCache(t, { source: { kind: 'kubeconfig', path: viaProxy }, backoff: { initialMs: 100, maxMs: 500 } });
  t.assert.equal(await cache.waitForSync(60_000), true);
  // One watch per kind (pods, namespaces, replicasets, jobs), nothing else left open.
  await eventually(() => proxy.active() === 4, 30_000, 'exactly one connection per watched kind');

  const a = await core.createNamespacedPod({ namespace: 'km-gone', body: podBody('a') });
  const b = await core.createNamespacedPod({ namespace: 'km-gone', body: podBody('b') });
  await cache.waitForPod({ uid: b.metadata?.uid ?? '' }, 30_000);
  const seenRv = b.metadata?.resourceVersion ?? '';

  proxy.sever();
  await core.deleteNamespacedPod({ name: 'a', namespace: 'km-gone', gracePeriodSeconds: 0 });
  const cPod = await core.createNamespacedPod({ namespace: 'km-gone', body: podBody('c') });
  const bNow = await core.readNamespacedPod({ name: 'b', namespace: 'km-gone' });
  bNow.metadata = { ...bNow.metadata, labels: { app: 'b', rev: '2' } };
  await core.replaceNamespacedPod({ name: 'b', namespace: 'km-gone', body: bNow });
  // Wait until the API server has compacted etcd past what the cache saw: resuming from it is now 410.
  const until = Date.now() + 60_000;
  while ((await watchErrorCode(c.adminClient, seenRv)) !== 410) {
    if (Date.now() > until) throw new Error('etcd was not compacted within 60 s');
    await core.createNamespacedConfigMap({ namespace: 'km-gone', body: { metadata: { generateName: 'tick-' } } });
  }
  t.assert.equal(cache.getPod({ uid: a.metadata?.uid ?? '' })?.deletedAt, undefined, 'the cache missed the delete while cut off');

  proxy.resume();
  await eventually(() => cache.getPod({ uid: cPod.metadata?.uid ?? '' }) !== undefined, 60_000, 'relist brings the new pod');
  await eventually(() => cache.getPod({ uid: a.metadata?.uid ?? '' })?.deletedAt !== undefined, 30_000, 'relist retires the deleted pod');
  t.assert.equal(cache.getPod({ uid: b.metadata?.uid ?? '' })?.labels?.rev, '2');
  t.assert.ok(cache.stats().relists >= 1, `relists: ${cache.stats().relists}`);
  t.assert.equal(cache.stats().pods, 2);
});

interface SelfReview {
  status?: { userInfo?: { username?: string } };
}

/** Who the API server thinks the transport is (SelfSubjectReview), and that it may LIST namespaces. */
async function whoAmI(transport: KubeTransport): Promise<string | undefined> {
  const res = await transport.request({
    method: 'POST',
    path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
    body: JSON.stringify({ apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' }),
  });
  const text = await res.text();
  if (res.status !== 201 && res.status !== 200) throw new Error(`SelfSubjectReview: HTTP ${res.status}: ${text}`);
  return (JSON.parse(text) as SelfReview).status?.userInfo?.username;
}

void test('credentials reader against the API server: client-certificate kubeconfig, bearer-token kubeconfig, exec plugin (via client-node)', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  await c.createNamespace('km-creds');
  const byCert = createKubeTransport({ kind: 'kubeconfig', path: c.kubeconfigPath });
  t.after(() => byCert.close());
  t.assert.equal(loadKubeCredentials({ kind: 'kubeconfig', path: c.kubeconfigPath }).auth.kind, 'none');
  t.assert.equal(await whoAmI(byCert), 'sextant-test-admin');
  const ns = await byCert.request({ path: '/api/v1/namespaces/km-creds' });
  t.assert.equal(ns.status, 200);
  t.assert.equal((JSON.parse(await ns.text()) as { metadata: { name: string } }).metadata.name, 'km-creds');

  const token = await c.tokenFor('km-creds', 'default');
  const tokenPath = c.kubeconfigFor(token);
  t.assert.equal(loadKubeCredentials({ kind: 'kubeconfig', path: tokenPath }).auth.kind, 'token');
  const byToken = createKubeTransport({ kind: 'kubeconfig', path: tokenPath });
  t.after(() => byToken.close());
  t.assert.equal(await whoAmI(byToken), 'system:serviceaccount:km-creds:default');
  // Authenticated but not authorised: the API server's answer reaches the caller as a status.
  const secrets = await byToken.request({ path: '/api/v1/namespaces/km-creds/secrets' });
  t.assert.equal(secrets.status, 403);
  secrets.discard();

  // An exec credential plugin: only client-node runs those, imported on the first request.
  const dir = mkdtempSync(join(tmpdir(), 'km-exec-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const plugin = join(dir, 'plugin.mjs');
  writeFileSync(plugin, `process.stdout.write(JSON.stringify({ apiVersion: 'client.authentication.k8s.io/v1', kind: 'ExecCredential', status: { token: ${JSON.stringify(token)} } }));\n`);
  const kc = parse(readFileSync(tokenPath, 'utf8')) as { users: Array<{ user: Record<string, unknown> }> };
  for (const u of kc.users) u.user = { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: process.execPath, args: [plugin], interactiveMode: 'Never' } };
  const execPath = join(dir, 'exec.kubeconfig');
  writeFileSync(execPath, stringify(kc), { mode: 0o600 });
  const byExec = createKubeTransport({ kind: 'kubeconfig', path: execPath });
  t.after(() => byExec.close());
  t.assert.deepEqual(byExec.credentials.auth, { kind: 'client-node', reason: 'exec' });
  t.assert.equal(await whoAmI(byExec), 'system:serviceaccount:km-creds:default');
});

void test('in-cluster against the API server: the mounted token is re-read, so a rotated token (here: another ServiceAccount) is used at once; the cache syncs', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  await c.createNamespace('km-incluster');
  const core = c.adminClient.makeApiClient(CoreV1Api);
  await core.createNamespacedServiceAccount({ namespace: 'km-incluster', body: { metadata: { name: 'other' } } });
  const sa = mkdtempSync(join(tmpdir(), 'km-sa-'));
  t.after(() => rmSync(sa, { recursive: true, force: true }));
  writeFileSync(join(sa, 'token'), await c.tokenFor('km-incluster', 'default'));
  writeFileSync(join(sa, 'ca.crt'), c.caPem);
  writeFileSync(join(sa, 'namespace'), 'km-incluster');
  const url = new URL(c.server);
  const inCluster = { env: { KUBERNETES_SERVICE_HOST: url.hostname, KUBERNETES_SERVICE_PORT: url.port }, serviceAccountDir: sa };
  const transport = createKubeTransport({ kind: 'in-cluster' }, inCluster);
  t.after(() => transport.close());
  t.assert.equal(transport.credentials.namespace, 'km-incluster');
  t.assert.equal(await whoAmI(transport), 'system:serviceaccount:km-incluster:default');
  // The kubelet rewrites the projected token file in place (an atomic symlink swap); no restart.
  writeFileSync(join(sa, 'token.new'), await c.tokenFor('km-incluster', 'other'));
  renameSync(join(sa, 'token.new'), join(sa, 'token'));
  t.assert.equal(await whoAmI(transport), 'system:serviceaccount:km-incluster:other');

  // The cache in-cluster, as a ServiceAccount with the rights it needs.
  const kubeconfig = await serviceAccountKubeconfig(c, 'km-incluster-cache', [
    { apiGroups: [''], resources: ['pods', 'namespaces'] },
    { apiGroups: ['apps'], resources: ['replicasets'] },
    { apiGroups: ['batch'], resources: ['jobs'] },
  ]);
  const saToken = (parse(readFileSync(kubeconfig, 'utf8')) as { users: Array<{ user: { token: string } }> }).users[0]?.user.token ?? '';
  writeFileSync(join(sa, 'token'), saToken);
  const cache = await startCache(t, { source: { kind: 'in-cluster' }, inCluster });
  t.assert.equal(await cache.waitForSync(60_000), true);
  const p = await core.createNamespacedPod({ namespace: 'km-incluster', body: podBody('via-sa') });
  t.assert.equal((await cache.waitForPod({ uid: p.metadata?.uid ?? '' }, 30_000))?.name, 'via-sa');
});

void test('the client-node engine (its ListWatch, imported on start) runs the same informers: adds, updates, deletes', TIMEOUT, async (t: TestContext) => {
  const c = await cluster();
  const core = c.adminClient.makeApiClient(CoreV1Api);
  await c.createNamespace('km-engine');
  const cache = await startCache(t, { source: { kind: 'kubeconfig', path: c.kubeconfigPath }, informerEngine: 'client-node', deletedPodGraceMs: 60_000 });
  t.assert.equal(await cache.waitForSync(60_000), true);
  const p = await core.createNamespacedPod({ namespace: 'km-engine', body: podBody('lw') });
  const uid = p.metadata?.uid ?? '';
  t.assert.equal((await cache.waitForPod({ uid }, 30_000))?.name, 'lw');
  const now = await core.readNamespacedPod({ name: 'lw', namespace: 'km-engine' });
  now.metadata = { ...now.metadata, labels: { app: 'lw', rev: '2' } };
  await core.replaceNamespacedPod({ name: 'lw', namespace: 'km-engine', body: now });
  await eventually(() => cache.getPod({ uid })?.labels?.rev === '2', 30_000, 'update seen');
  await core.deleteNamespacedPod({ name: 'lw', namespace: 'km-engine', gracePeriodSeconds: 0 });
  await eventually(() => cache.getPod({ uid })?.deletedAt !== undefined, 30_000, 'delete seen');
  t.assert.throws(() => createMetadataCache({ source: { kind: 'in-cluster' }, informerEngine: 'bogus' as 'sextant' }), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_OPTION') && /informerEngine/.test(e.message));
});
