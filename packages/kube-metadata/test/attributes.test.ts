import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createMetadataCache, isKubeMetadataError, parseImage } from '@sextant/kube-metadata';
import type { MetadataCache, MetadataCacheOptions } from '@sextant/kube-metadata';
import { eventually, namespace, node, owned, pod } from './fixtures.ts';

type T = { after: (fn: () => Promise<void>) => void };

async function cacheOf(t: T, items: unknown[], opts: Partial<MetadataCacheOptions> = {}): Promise<MetadataCache> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'objects.json');
  await writeFile(path, JSON.stringify({ kind: 'List', items }));
  const cache = createMetadataCache({ source: { kind: 'file', path }, ...opts });
  t.after(() => cache.shutdown());
  await cache.start();
  return cache;
}

function attrs(cache: MetadataCache, uid: string, container?: string): Record<string, string> {
  const p = cache.getPod({ uid });
  if (p === undefined) throw new Error(`no pod ${uid}`);
  return Object.fromEntries(cache.attributesFor(p, container));
}

const world = [
  namespace('shop', { team: 'payments', 'cost-center': 'cc-12' }, { 'owner.example.com/slack': '#payments' }),
  node('node-1', { 'topology.kubernetes.io/zone': 'eu-west-1a', 'node.kubernetes.io/instance-type': 'm7i.large' }),
  owned('ReplicaSet', 'apps/v1', 'checkout-6b7f9c8d4', 'shop', { kind: 'Deployment', name: 'checkout' }),
  // A bare ReplicaSet (no Deployment) whose name happens to look like one.
  owned('ReplicaSet', 'apps/v1', 'legacy-abc12', 'shop'),
  owned('Job', 'batch/v1', 'report-29391840', 'shop', { kind: 'CronJob', name: 'report' }),
  owned('Job', 'batch/v1', 'migrate-29391840', 'shop'),
  pod({
    name: 'checkout-6b7f9c8d4-x2x9z',
    namespace: 'shop',
    uid: 'u-deploy',
    ip: '10.8.0.1',
    node: 'node-1',
    started: '2026-11-24T05:59:58Z',
    owner: { kind: 'ReplicaSet', name: 'checkout-6b7f9c8d4' },
    labels: { app: 'checkout', 'pod-template-hash': '6b7f9c8d4', 'app.kubernetes.io/name': 'checkout-svc', 'app.kubernetes.io/version': '3.2.0' },
    containers: [
      { name: 'app', image: 'registry.example.com:5000/shop/checkout:3.2.0' },
      { name: 'proxy', image: 'envoyproxy/envoy@sha256:' + 'f'.repeat(64) },
      { name: 'plain', image: 'busybox' },
    ],
  }),
  pod({ name: 'legacy-abc12-q1w2e', namespace: 'shop', uid: 'u-rs', owner: { kind: 'ReplicaSet', name: 'legacy-abc12' }, labels: { 'pod-template-hash': 'abc12' } }),
  pod({ name: 'report-29391840-7k8j9', namespace: 'shop', uid: 'u-cron', owner: { kind: 'Job', name: 'report-29391840' } }),
  pod({ name: 'migrate-29391840-aaaaa', namespace: 'shop', uid: 'u-job', owner: { kind: 'Job', name: 'migrate-29391840' } }),
  pod({ name: 'db-0', namespace: 'shop', uid: 'u-sts', owner: { kind: 'StatefulSet', name: 'db' } }),
  pod({ name: 'agent-5xk2p', namespace: 'shop', uid: 'u-ds', owner: { kind: 'DaemonSet', name: 'agent' }, hostNetwork: true, ip: '10.0.0.10' }),
  pod({ name: 'debug', namespace: 'shop', uid: 'u-bare', labels: {} }),
  pod({ name: 'annotated', namespace: 'shop', uid: 'u-ann', owner: { kind: 'StatefulSet', name: 'kafka' }, annotations: { 'resource.opentelemetry.io/service.name': 'events', 'resource.opentelemetry.io/service.version': '9' } }),
];

void test('Deployment chain: RS → Deployment through the cached RS owner; all semconv attributes for a container', async (t: TestContext) => {
  const cache = await cacheOf(t, world, { clusterName: 'eu-prod' });
  t.assert.deepEqual(attrs(cache, 'u-deploy', 'app'), {
    'k8s.namespace.name': 'shop',
    'k8s.pod.name': 'checkout-6b7f9c8d4-x2x9z',
    'k8s.pod.uid': 'u-deploy',
    'k8s.pod.start_time': '2026-11-24T05:59:58Z',
    'k8s.pod.ip': '10.8.0.1',
    'k8s.node.name': 'node-1',
    'k8s.deployment.name': 'checkout',
    'k8s.replicaset.name': 'checkout-6b7f9c8d4',
    'container.image.name': 'registry.example.com:5000/shop/checkout',
    'container.image.tag': '3.2.0',
    'k8s.cluster.name': 'eu-prod',
    'service.name': 'checkout',
  });
  t.assert.equal(attrs(cache, 'u-deploy', 'proxy')['container.image.name'], 'envoyproxy/envoy');
  t.assert.equal(attrs(cache, 'u-deploy', 'proxy')['container.image.tag'], undefined);
  t.assert.equal(attrs(cache, 'u-deploy', 'plain')['container.image.tag'], 'latest');
  t.assert.equal(attrs(cache, 'u-deploy')['container.image.name'], undefined);
});

void test('a cached ReplicaSet without a Deployment owner is not stripped to a deployment name', async (t: TestContext) => {
  const cache = await cacheOf(t, world);
  const a = attrs(cache, 'u-rs');
  t.assert.equal(a['k8s.replicaset.name'], 'legacy-abc12');
  t.assert.equal(a['k8s.deployment.name'], undefined);
  t.assert.equal(a['service.name'], 'legacy-abc12');
});

void test('owners informer off: deployment and cronjob names fall back to the controllers naming heuristics', async (t: TestContext) => {
  const cache = await cacheOf(t, world, { informers: { owners: false } });
  t.assert.equal(cache.stats().replicaSets, 0);
  t.assert.equal(attrs(cache, 'u-deploy')['k8s.deployment.name'], 'checkout');
  // Without the RS cache, the pod-template-hash suffix is all there is to go on.
  t.assert.equal(attrs(cache, 'u-rs')['k8s.deployment.name'], 'legacy');
  t.assert.equal(attrs(cache, 'u-cron')['k8s.cronjob.name'], 'report');
});

void test('Job → CronJob, bare Job, StatefulSet, DaemonSet and bare pod chains, with service.name for each', async (t: TestContext) => {
  const cache = await cacheOf(t, world);
  const pick = (uid: string): Record<string, string | undefined> => {
    const a = attrs(cache, uid);
    return Object.fromEntries(
      ['k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.cronjob.name', 'k8s.job.name', 'service.name'].flatMap((k) => (a[k] === undefined ? [] : [[k, a[k]]])),
    );
  };
  t.assert.deepEqual(pick('u-cron'), { 'k8s.cronjob.name': 'report', 'k8s.job.name': 'report-29391840', 'service.name': 'report' });
  t.assert.deepEqual(pick('u-job'), { 'k8s.job.name': 'migrate-29391840', 'service.name': 'migrate-29391840' });
  t.assert.deepEqual(pick('u-sts'), { 'k8s.statefulset.name': 'db', 'service.name': 'db' });
  t.assert.deepEqual(pick('u-ds'), { 'k8s.daemonset.name': 'agent', 'service.name': 'agent' });
  t.assert.deepEqual(pick('u-bare'), { 'service.name': 'debug' });
  t.assert.equal(attrs(cache, 'u-ds')['k8s.pod.ip'], undefined, 'a hostNetwork pod has the node IP; it is not reported as k8s.pod.ip');
});

void test('service.name: the resource.opentelemetry.io annotation wins; well-known labels only when opted in', async (t: TestContext) => {
  const cache = await cacheOf(t, world);
  const a = attrs(cache, 'u-ann');
  t.assert.equal(a['service.name'], 'events');
  t.assert.equal(a['service.version'], '9');
  t.assert.equal(attrs(cache, 'u-deploy')['service.name'], 'checkout');
  const opted = await cacheOf(t, world, { useWellKnownLabels: true });
  t.assert.equal(attrs(opted, 'u-deploy')['service.name'], 'checkout-svc');
  t.assert.equal(attrs(opted, 'u-ann')['service.name'], 'events');
});

void test('extraction rules: pod/namespace/node labels and annotations, default tag names, key regex with $1', async (t: TestContext) => {
  const cache = await cacheOf(t, world, {
    rules: [
      { from: 'pod', source: 'label', key: 'app' },
      { from: 'pod', source: 'label', keyRegex: 'app\\.kubernetes\\.io/(.*)', tagName: 'app.$1' },
      { from: 'namespace', source: 'label', key: 'team', tagName: 'team' },
      { from: 'namespace', source: 'annotation', keyRegex: 'owner\\.example\\.com/.*' },
      { from: 'node', source: 'label', keyRegex: 'topology\\.kubernetes\\.io/(zone|region)', tagName: 'cloud.$1' },
      // Anchored: must not match "app.kubernetes.io/version" by prefix.
      { from: 'pod', source: 'label', keyRegex: 'app\\.kubernetes\\.io/ver', tagName: 'never' },
    ],
  });
  t.assert.equal(cache.stats().nodes, 1, 'a node rule turns the nodes informer on');
  const a = attrs(cache, 'u-deploy');
  t.assert.equal(a['k8s.pod.labels.app'], 'checkout');
  t.assert.equal(a['app.name'], 'checkout-svc');
  t.assert.equal(a['app.version'], '3.2.0');
  t.assert.equal(a.team, 'payments');
  t.assert.equal(a['k8s.namespace.annotations.owner.example.com/slack'], '#payments');
  t.assert.equal(a['cloud.zone'], 'eu-west-1a');
  t.assert.equal(a.never, undefined);
  t.assert.equal(a['k8s.namespace.labels.cost-center'], undefined, 'no rule, no attribute');
  // Only what rules read is kept of namespaces and nodes.
  t.assert.deepEqual(cache.getNamespace('shop')?.labels, { team: 'payments' });
  t.assert.deepEqual(cache.getNode('node-1')?.labels, { 'topology.kubernetes.io/zone': 'eu-west-1a' });
});

void test('attributes of a pod already handed out follow later namespace changes; callers get a copy', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'objects.json');
  const pods = world.filter((o) => (o as { kind: string }).kind === 'Pod');
  await writeFile(path, JSON.stringify({ kind: 'List', items: world }));
  const cache = createMetadataCache({ source: { kind: 'file', path, watch: true }, rules: [{ from: 'namespace', source: 'label', key: 'team' }] });
  t.after(() => cache.shutdown());
  await cache.start();
  const p = cache.getPod({ uid: 'u-deploy' })!;
  t.assert.equal(Object.fromEntries(cache.attributesFor(p))['k8s.namespace.labels.team'], 'payments');
  await writeFile(path, JSON.stringify({ kind: 'List', items: [namespace('shop', { team: 'risk' }), ...pods] }));
  await eventually(() => cache.getNamespace('shop')?.labels?.team === 'risk', 10_000, 'namespace reload');
  t.assert.equal(Object.fromEntries(cache.attributesFor(p))['k8s.namespace.labels.team'], 'risk');
  const copy = cache.attributesFor(p);
  copy.push(['x', 'y']);
  t.assert.equal(cache.attributesFor(p).length, copy.length - 1);
});

void test('invalid rules are refused with SEXTANT_KUBE_INVALID_RULE naming the rule', (t: TestContext) => {
  const bad = (rules: MetadataCacheOptions['rules']): void => void createMetadataCache({ source: { kind: 'file', path: '/x' }, ...(rules === undefined ? {} : { rules }) });
  t.assert.throws(() => bad([{ from: 'pod', source: 'label', keyRegex: '(' }]), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_RULE') && /#0/.test((e as Error).message));
  t.assert.throws(() => bad([{ from: 'pod', source: 'label' }]), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_RULE'));
  t.assert.throws(() => bad([{ from: 'service' as 'pod', source: 'label', key: 'a' }]), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_RULE') && /valid/.test((e as Error).message));
});

void test('parseImage handles registries with ports, digests and missing tags', (t: TestContext) => {
  t.assert.deepEqual(parseImage('nginx:1.27'), { name: 'nginx', tag: '1.27' });
  t.assert.deepEqual(parseImage('localhost:5000/a/b'), { name: 'localhost:5000/a/b', tag: 'latest' });
  t.assert.deepEqual(parseImage('localhost:5000/a/b:v2@sha256:abc'), { name: 'localhost:5000/a/b', tag: 'v2' });
  t.assert.deepEqual(parseImage('a/b@sha256:abc'), { name: 'a/b', tag: undefined });
});
