// Acceptance (issue 5): metadata, timing of pod life, IP reuse and least privilege, against a
// real kube-apiserver and the real OpenTelemetry Collector as backend. The service runs with a
// ServiceAccount token bound to a ClusterRole of get/list/watch on exactly the kinds it uses.
import { after, before, test } from 'node:test';
import { mkdtemp, rm } from 'node:fs/promises';
import { gzipSync, zstdCompressSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CoreV1Api, KubeConfig } from '@kubernetes/client-node';
import { createEnrichmentService } from '@sextant/enrichment';
import type { EnrichmentService } from '@sextant/enrichment';
import { silentLogger } from '@sextant/pipeline';
import { startCluster, startOtelCollector } from '@sextant/test-env';
import type { Cluster, OtelCollector } from '@sextant/test-env';
import { createJob, createNode, createReplicaSet, createRunningPod, grantEnrichmentRole, kubeClients } from './kube.ts';
import type { Kube } from './kube.ts';
import { exportedResources, logsRequest } from './otlp.ts';
import type { Attr, JsonResource } from './otlp.ts';

const NS = 'shop';
const DELETED_GRACE_MS = 120_000;
const DELETED_BEFORE_LOGS_MS = 60_000;

let cluster: Cluster;
let backend: OtelCollector;
let service: EnrichmentService;
let k: Kube;
let saKubeconfig: string;
let url: string;
let queueDir: string;
// The short-lived Job pod deleted at the start; its logs are sent a minute later, at the end.
let deleted: { uid: string; name: string; at: number } | undefined;

before(async () => {
  [cluster, backend] = await Promise.all([startCluster(), startOtelCollector()]);
  k = kubeClients(cluster.adminClient);
  await cluster.createNamespace(NS, { team: 'payments', 'kubernetes.io/metadata.name': NS });
  await cluster.createNamespace('sextant');
  await createNode(k, 'node-a', { 'topology.kubernetes.io/zone': 'zone-a', 'node.kubernetes.io/instance-type': 'm5.large' });
  await grantEnrichmentRole(k, 'sextant', 'sextant-enrichment');
  saKubeconfig = cluster.kubeconfigFor(await cluster.tokenFor('sextant', 'sextant-enrichment'));
  queueDir = await mkdtemp(join(tmpdir(), 'sextant-enrichment-acceptance-'));
  service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      metadata: {
        source: 'kubeconfig',
        path: saKubeconfig,
        clusterName: 'acceptance',
        waitForPod: '2s',
        deletedPodGrace: DELETED_GRACE_MS,
        informers: { nodes: true },
        rules: [
          { from: 'pod', source: 'label', key: 'app', tagName: 'app' },
          { from: 'pod', source: 'annotation', keyRegex: 'example\\.com/(.*)', tagName: 'example.$1' },
          { from: 'namespace', source: 'label', key: 'team', tagName: 'k8s.namespace.labels.team' },
          { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'cloud.availability_zone' },
        ],
      },
      queue: { dir: queueDir, maxBytes: '64Mi' },
      exporter: { protocol: 'otlp_http', endpoint: backend.httpEndpoint },
      export: { initialBackoff: '100ms', maxBackoff: '1s' },
    },
    { logger: silentLogger() },
  );
  await service.start();
  const deadline = Date.now() + 30_000;
  while (!service.ready()) {
    if (Date.now() > deadline) throw new Error('enrichment did not become ready (metadata sync) within 30 s');
    await new Promise((r) => setTimeout(r, 50));
  }
  url = `http://127.0.0.1:${service.address()?.port}`;
});

after(async () => {
  await service?.shutdown();
  await Promise.all([backend?.stop(), cluster?.stop()]);
  if (queueDir !== undefined) await rm(queueDir, { recursive: true, force: true });
});

async function send(resources: ReadonlyArray<{ attributes: readonly Attr[]; bodies: readonly string[] }>): Promise<number> {
  const res = await fetch(`${url}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: logsRequest(resources) });
  await res.arrayBuffer();
  return res.status;
}

/** Waits for the backend to hold the record with this body and returns its resource. */
async function exported(body: string): Promise<JsonResource> {
  const lines = await backend.waitFor((ls) => exportedResources(ls).some((r) => r.bodies.includes(body)), 20_000);
  const r = exportedResources(lines).find((x) => x.bodies.includes(body));
  if (r === undefined) throw new Error(`no exported record ${body}`);
  return r;
}

/** What the node collector sets, from /var/log/pods/<ns>_<pod>_<uid>/<container>/0.log. */
function collectorAttrs(pod: { metadata?: { name?: string; uid?: string } }): Attr[] {
  const name = pod.metadata?.name ?? '';
  const uid = pod.metadata?.uid ?? '';
  return [
    ['k8s.namespace.name', NS],
    ['k8s.pod.name', name],
    ['k8s.pod.uid', uid],
    ['k8s.container.name', 'app'],
    ['k8s.container.restart_count', '0'],
    ['log.file.path', `/var/log/pods/${NS}_${name}_${uid}/app/0.log`],
  ];
}

async function metric(series: string): Promise<number | undefined> {
  for (const line of (await service.metricsText()).split('\n')) if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  return undefined;
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

void test('timing, part 1: a short-lived Job pod runs and is deleted (its logs come a minute later, at the end)', async (t) => {
  const job = await createJob(k, NS, 'report-29390000', 'report');
  const pod = await createRunningPod(k, { namespace: NS, name: 'report-29390000-x7k2p', owner: job, labels: { app: 'report' } });
  const uid = pod.metadata?.uid ?? '';
  await until('the cache has the pod', async () => (await send([{ attributes: [['k8s.pod.uid', uid]], bodies: ['warm-up'] }])) === 200 && (await exported('warm-up')).attributes.get('k8s.job.name') === 'report-29390000');
  const deletedBefore = (await metric('sextant_enrichment_metadata_cache_objects{kind="deleted_pods"}')) ?? 0;
  await k.core.deleteNamespacedPod({ name: 'report-29390000-x7k2p', namespace: NS, gracePeriodSeconds: 0 });
  await until('the deletion reached the cache', async () => ((await metric('sextant_enrichment_metadata_cache_objects{kind="deleted_pods"}')) ?? 0) > deletedBefore);
  const gone = await k.core.listNamespacedPod({ namespace: NS, fieldSelector: 'metadata.name=report-29390000-x7k2p' });
  t.assert.equal(gone.items.length, 0, 'the pod is really gone from the API server');
  deleted = { uid, name: 'report-29390000-x7k2p', at: Date.now() };
});

void test('metadata: Deployment (via ReplicaSet), CronJob (via Job), StatefulSet, DaemonSet and bare pods', async (t) => {
  const rs = await createReplicaSet(k, NS, 'web-5d8f7b9c6', 'web');
  const job = await createJob(k, NS, 'nightly-29390001', 'nightly');
  const cases = [
    { name: 'web-5d8f7b9c6-abcde', owner: rs, expect: { 'k8s.deployment.name': 'web', 'k8s.replicaset.name': 'web-5d8f7b9c6', 'service.name': 'web' } },
    { name: 'nightly-29390001-q9zt4', owner: job, expect: { 'k8s.cronjob.name': 'nightly', 'k8s.job.name': 'nightly-29390001', 'service.name': 'nightly' } },
    { name: 'db-0', owner: { apiVersion: 'apps/v1', kind: 'StatefulSet', name: 'db', uid: crypto.randomUUID() }, expect: { 'k8s.statefulset.name': 'db', 'service.name': 'db' } },
    { name: 'agent-x2v9k', owner: { apiVersion: 'apps/v1', kind: 'DaemonSet', name: 'agent', uid: crypto.randomUUID() }, expect: { 'k8s.daemonset.name': 'agent', 'service.name': 'agent' } },
    { name: 'debug', owner: undefined, expect: { 'service.name': 'debug' } },
  ];
  const workloadKeys = ['k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.job.name', 'k8s.cronjob.name'];
  for (const c of cases) {
    const pod = await createRunningPod(k, {
      namespace: NS,
      name: c.name,
      ...(c.owner === undefined ? {} : { owner: c.owner }),
      labels: { app: c.name.split('-')[0] ?? c.name, tier: 'backend' },
      annotations: { 'example.com/owner': 'alice', 'unrelated.io/x': 'y' },
      image: 'registry.example.com/shop/app:3.2',
    });
    const body = `metadata ${c.name}`;
    t.assert.equal(await send([{ attributes: collectorAttrs(pod), bodies: [body] }]), 200, c.name);
    const r = await exported(body);
    t.assert.deepEqual(r.duplicateKeys, [], `${c.name}: no duplicated keys`);
    for (const [key, value] of Object.entries(c.expect)) t.assert.equal(r.attributes.get(key), value, `${c.name}: ${key}`);
    for (const key of workloadKeys) if (!(key in c.expect)) t.assert.equal(r.attributes.has(key), false, `${c.name}: no ${key}`);
    t.assert.equal(r.attributes.get('k8s.cluster.name'), 'acceptance', c.name);
    t.assert.equal(r.attributes.get('k8s.node.name'), 'node-a', c.name);
    t.assert.equal(r.attributes.get('k8s.pod.ip'), pod.status?.podIP, c.name);
    t.assert.equal(r.attributes.get('container.image.name'), 'registry.example.com/shop/app', c.name);
    t.assert.equal(r.attributes.get('container.image.tag'), '3.2', c.name);
    t.assert.equal(r.attributes.get('app'), c.name.split('-')[0], `${c.name}: pod label by rule`);
    t.assert.equal(r.attributes.get('example.owner'), 'alice', `${c.name}: annotation by regex rule`);
    t.assert.equal(r.attributes.has('example.x'), false, `${c.name}: unmatched annotation not added`);
    t.assert.equal(r.attributes.get('k8s.namespace.labels.team'), 'payments', `${c.name}: namespace label`);
    t.assert.equal(r.attributes.get('cloud.availability_zone'), 'zone-a', `${c.name}: node label`);
    t.assert.equal(r.attributes.get('log.file.path'), `/var/log/pods/${NS}_${c.name}_${pod.metadata?.uid}/app/0.log`, `${c.name}: collector attributes kept`);
  }
});

void test('timing: a pod created 300 ms after its logs arrive is enriched thanks to the wait', async (t) => {
  // The UID is assigned by the API server, so these logs name the pod by namespace and name.
  const sending = send([{ attributes: [['k8s.namespace.name', NS], ['k8s.pod.name', 'late-starter'], ['k8s.container.name', 'app']], bodies: ['before the pod'] }]);
  await new Promise((r) => setTimeout(r, 300));
  await createRunningPod(k, { namespace: NS, name: 'late-starter', labels: { app: 'late' } });
  t.assert.equal(await sending, 200);
  const r = await exported('before the pod');
  t.assert.equal(r.attributes.get('app'), 'late');
  t.assert.equal(r.attributes.get('k8s.cluster.name'), 'acceptance');
  t.assert.equal(((await metric('sextant_enrichment_metadata_found_after_wait_total')) ?? 0) >= 1, true);
});

void test('timing: an unknown pod passes through after the wait and the miss is counted', async (t) => {
  const before = (await metric('sextant_enrichment_metadata_misses_total{reason="not_found_after_wait"}')) ?? 0;
  const uid = crypto.randomUUID();
  t.assert.equal(await send([{ attributes: [['k8s.pod.uid', uid], ['k8s.namespace.name', NS]], bodies: ['nobody home'] }]), 200);
  const r = await exported('nobody home');
  t.assert.deepEqual([...r.attributes.keys()], ['k8s.pod.uid', 'k8s.namespace.name'], 'passed through unchanged');
  t.assert.equal(await metric('sextant_enrichment_metadata_misses_total{reason="not_found_after_wait"}'), before + 1);
});

void test('IP reuse: the new pod gets the IP and the old pod\'s delayed deletion does not remove it', async (t) => {
  const ip = '10.99.0.42';
  await createRunningPod(k, { namespace: NS, name: 'old-owner', ip, labels: { app: 'old' } });
  await new Promise((r) => setTimeout(r, 1100)); // creationTimestamp has 1 s resolution: the new pod is strictly newer
  await createRunningPod(k, { namespace: NS, name: 'new-owner', ip, labels: { app: 'new' } });
  t.assert.equal(await send([{ attributes: [['k8s.pod.ip', ip]], bodies: ['ip after reuse'] }]), 200);
  t.assert.equal((await exported('ip after reuse')).attributes.get('k8s.pod.name'), 'new-owner');
  // The old pod's deletion arrives late: first graceful (deletionTimestamp set, as the kubelet has
  // not confirmed), then final.
  const deletedBefore = (await metric('sextant_enrichment_metadata_cache_objects{kind="deleted_pods"}')) ?? 0;
  await k.core.deleteNamespacedPod({ name: 'old-owner', namespace: NS, gracePeriodSeconds: 30 });
  await k.core.deleteNamespacedPod({ name: 'old-owner', namespace: NS, gracePeriodSeconds: 0 });
  await until('the old pod\'s deletion reached the cache', async () => ((await metric('sextant_enrichment_metadata_cache_objects{kind="deleted_pods"}')) ?? 0) > deletedBefore);
  t.assert.equal(await send([{ attributes: [['k8s.pod.ip', ip]], bodies: ['ip after old deletion'] }]), 200);
  const r = await exported('ip after old deletion');
  t.assert.equal(r.attributes.get('k8s.pod.name'), 'new-owner');
  t.assert.equal(r.attributes.get('app'), 'new');
});

void test('least privilege: the service\'s ServiceAccount can watch what it uses, and reading Secrets is forbidden', async (t) => {
  // Everything above ran with this token; here the role is shown to be just enough.
  const kc = new KubeConfig();
  kc.loadFromFile(saKubeconfig);
  const core = kc.makeApiClient(CoreV1Api);
  t.assert.equal((await core.listPodForAllNamespaces({ limit: 1 })).kind, 'PodList');
  await t.assert.rejects(core.listNamespacedSecret({ namespace: 'sextant' }), (err: { code?: number; body?: string }) => {
    t.assert.equal(err.code, 403);
    t.assert.match(String(err.body), /cannot list resource \\?"secrets\\?"/);
    return true;
  });
  await t.assert.rejects(core.readNamespacedConfigMap({ namespace: NS, name: 'kube-root-ca.crt' }), (err: { code?: number }) => err.code === 403);
  await t.assert.rejects(core.createNamespacedPod({ namespace: NS, body: { metadata: { name: 'nope' }, spec: { containers: [{ name: 'a', image: 'a' }] } } }), (err: { code?: number }) => err.code === 403);
  t.assert.equal(await metric('sextant_enrichment_metadata_watch_errors_total'), 0, 'no watch was refused');
});

void test('bad input: each gets its 4xx with a google.rpc.Status, nothing reaches the backend, and the service keeps serving', async (t) => {
  const good = logsRequest([{ attributes: [['k8s.namespace.name', NS], ['k8s.pod.name', 'debug']], bodies: Array.from({ length: 50 }, (_, i) => `bad-input probe ${i}`) }]);
  const json = (text: string): Buffer => Buffer.from(text);
  const cases: Array<[string, Record<string, string>, Uint8Array, number]> = [
    ['oversized body (Content-Length above 16 MiB)', { 'content-type': 'application/x-protobuf' }, Buffer.alloc(17 * 1024 * 1024, 0x0a), 413],
    ['gzip bomb (256 MiB of zeros, 250 KiB on the wire; the cap is 64 MiB)', { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' }, gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 }), 413],
    ['zstd bomb', { 'content-type': 'application/x-protobuf', 'content-encoding': 'zstd' }, zstdCompressSync(Buffer.alloc(256 * 1024 * 1024)), 413],
    ['truncated protobuf', { 'content-type': 'application/x-protobuf' }, good.subarray(0, good.length - 11), 400],
    ['wrong content type', { 'content-type': 'text/plain' }, json('hello'), 415],
    ['unsupported encoding', { 'content-type': 'application/x-protobuf', 'content-encoding': 'br' }, good, 415],
    ['JSON with wrong types', { 'content-type': 'application/json' }, json('{"resourceLogs":[{"scopeLogs":[{"logRecords":[{"timeUnixNano":{"not":"a number"}}]}]}]}'), 400],
    ['JSON list where an object belongs', { 'content-type': 'application/json' }, json('{"resourceLogs":{"resource":1}}'), 400],
  ];
  for (const [name, headers, body, status] of cases) {
    const res = await fetch(`${url}/v1/logs`, { method: 'POST', headers, body }).catch((err: unknown) => {
      throw new Error(`${name}: ${(err as Error).message}`);
    });
    const answer = Buffer.from(await res.arrayBuffer());
    t.assert.equal(res.status, status, name);
    if (headers['content-type'] === 'application/json') t.assert.equal((JSON.parse(answer.toString()) as { code: number }).code, 3, name);
    else t.assert.equal(answer[0], 0x08, `${name}: protobuf google.rpc.Status`);
  }
  t.assert.equal(await send([{ attributes: [['k8s.namespace.name', NS], ['k8s.pod.name', 'debug']], bodies: ['still serving'] }]), 200);
  t.assert.equal((await exported('still serving')).attributes.get('service.name'), 'debug');
  const lines = await backend.readOutput();
  t.assert.equal(exportedResources(lines).some((r) => r.bodies.some((b) => b.startsWith('bad-input probe'))), false, 'no bad request reached the backend');
});

void test('timing, part 2: logs of the pod deleted a minute ago are still enriched (deleted-pod grace)', async (t) => {
  t.assert.notEqual(deleted, undefined, 'part 1 ran');
  const d = deleted as { uid: string; name: string; at: number };
  // setTimeout runs on the monotonic clock and may fire a millisecond before Date.now() says so: loop
  for (let wait = d.at + DELETED_BEFORE_LOGS_MS - Date.now(); wait > 0; wait = d.at + DELETED_BEFORE_LOGS_MS - Date.now()) {
    await new Promise((r) => setTimeout(r, wait + 5));
  }
  t.assert.equal(Date.now() - d.at >= DELETED_BEFORE_LOGS_MS, true);
  t.assert.equal(await send([{ attributes: collectorAttrs({ metadata: { name: d.name, uid: d.uid } }), bodies: ['late log of a deleted pod'] }]), 200);
  const r = await exported('late log of a deleted pod');
  t.assert.equal(r.attributes.get('k8s.job.name'), 'report-29390000');
  t.assert.equal(r.attributes.get('k8s.cronjob.name'), 'report');
  t.assert.equal(r.attributes.get('app'), 'report');
});
