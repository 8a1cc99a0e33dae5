// Acceptance (issue 10, Kubernetes events): two enrichment replicas (main.ts child processes with
// separate queue directories) against the real kube-apiserver and the real OTel Collector backend.
// Events created through the API arrive with the right attributes and the involved pod's metadata;
// only the Lease holder ships; the leader is SIGKILLed during a stream of events, the other
// replica takes over and the killed one restarts on its own queue directory (as its StatefulSet
// pod would): no event is lost, and repeats stay within one batch (the documented window).
// Then the leader is stopped gracefully: nothing lost, nothing repeated.
import { ok as check } from 'node:assert/strict';
import { test } from 'node:test';
import { join } from 'node:path';
import { CoordinationV1Api, CoreV1Api, EventsV1Api } from '@kubernetes/client-node';
import { freePort, startCluster, startOtelCollector } from '@sextant/test-env';
import { flatRecords, metricValue, serviceProcess, testDir, until } from './helpers.ts';
import type { FlatRecord, ServiceProcess } from './helpers.ts';

const BATCH = 20;

/** MicroTime with the six fractional digits the API server parses. */
function micro(d = new Date()): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

void test('events: attributes, only the leader ships, takeover after SIGKILL without loss', { timeout: 420_000 }, async (t) => {
  const { dir, cleanups } = await testDir(t, 'sextant-events-e2e-');
  const [cluster, backend] = await Promise.all([startCluster(), startOtelCollector()]);
  cleanups.push(() => cluster.stop(), () => backend.stop());
  const kc = cluster.adminClient;
  const core = kc.makeApiClient(CoreV1Api);
  const eventsApi = kc.makeApiClient(EventsV1Api);
  const leases = kc.makeApiClient(CoordinationV1Api);
  await cluster.createNamespace('shop');
  await core.createNamespacedConfigMap({ namespace: 'shop', body: { metadata: { name: 'marker' } } });
  const pod = await core.createNamespacedPod({
    namespace: 'shop',
    body: { metadata: { name: 'web-1', labels: { app: 'web' } }, spec: { nodeName: 'node-a', containers: [{ name: 'app', image: 'ghcr.io/example/web:2.0' }] } },
  });
  await core.replaceNamespacedPodStatus({ name: 'web-1', namespace: 'shop', body: { ...pod, status: { phase: 'Running', podIP: '10.40.0.7', startTime: new Date() } } });
  const podUid = pod.metadata?.uid ?? '';

  const replicas: Record<string, ServiceProcess> = {};
  for (const name of ['replica-a', 'replica-b']) {
    const port = await freePort();
    const p = await serviceProcess(dir, name, port, {
      metadata: { source: 'kubeconfig', path: cluster.kubeconfigPath, clusterName: 'e2e', waitForPod: '2s' },
      queue: { dir: join(dir, `queue-${name}`) },
      exporter: { protocol: 'otlp_http', endpoint: backend.httpEndpoint, compression: 'gzip' },
      export: { initialBackoff: '100ms', maxBackoff: '1s' },
      events: {
        enabled: true,
        identity: name,
        lease: { namespace: 'default', duration: '4s', renewInterval: '1s', renewDeadline: '3s', retryInterval: '500ms' },
        batch: { maxEvents: BATCH, maxWait: '300ms' },
      },
    });
    cleanups.push(() => p.kill());
    replicas[name] = p;
  }
  await Promise.all(Object.values(replicas).map((p) => p.start()));
  const holder = async (): Promise<string | undefined> => {
    try {
      const l = await leases.readNamespacedLease({ name: 'sextant-events', namespace: 'default' });
      const h = l.spec?.holderIdentity;
      return h === undefined || h === '' ? undefined : h;
    } catch {
      return undefined;
    }
  };
  const leaderName = await until('a Lease holder', holder, 60_000);
  const followerName = leaderName === 'replica-a' ? 'replica-b' : 'replica-a';
  const leader = replicas[leaderName];
  const follower = replicas[followerName];
  if (leader === undefined || follower === undefined) throw new Error(`unknown holder ${leaderName}`);

  // 1. Events through the API: a Warning about the pod (then a second occurrence), a Normal about a Deployment.
  const created = await eventsApi.createNamespacedEvent({
    namespace: 'shop',
    body: {
      metadata: { name: 'web-1.backoff' },
      eventTime: micro(),
      reportingController: 'kubelet',
      reportingInstance: 'node-a',
      action: 'Pulling',
      reason: 'BackOff',
      type: 'Warning',
      note: 'Back-off pulling image "ghcr.io/example/web:2.0"',
      regarding: { kind: 'Pod', apiVersion: 'v1', name: 'web-1', namespace: 'shop', uid: podUid, fieldPath: 'spec.containers{app}' },
    },
  });
  await eventsApi.createNamespacedEvent({
    namespace: 'shop',
    body: {
      metadata: { name: 'web.scaled' },
      eventTime: micro(),
      reportingController: 'deployment-controller',
      reportingInstance: 'cm-1',
      action: 'Scale',
      reason: 'ScalingReplicaSet',
      type: 'Normal',
      note: 'Scaled up replica set web-5d to 3',
      regarding: { kind: 'Deployment', apiVersion: 'apps/v1', name: 'web', namespace: 'shop', uid: 'dep-uid-1' },
    },
  });
  await eventsApi.replaceNamespacedEvent({
    name: 'web-1.backoff',
    namespace: 'shop',
    body: { ...created, series: { count: 2, lastObservedTime: micro() } },
  });
  const eventRecords = async (): Promise<FlatRecord[]> => flatRecords(await backend.readOutput()).filter((r) => r.scope === 'sextant.k8s.events');
  const first = await until(
    'the three event records',
    async () => {
      const rs = (await eventRecords()).filter((r) => r.attributes['k8s.event.name'] === 'web-1.backoff' || r.attributes['k8s.event.name'] === 'web.scaled');
      return rs.length >= 3 ? rs : undefined;
    },
    60_000,
  );
  const backoff = first.filter((r) => r.attributes['k8s.event.name'] === 'web-1.backoff');
  t.assert.deepEqual(backoff.map((r) => r.attributes['k8s.event.count']).sort(), ['1', '2'], 'the first occurrence and the series update');
  const b = backoff[0];
  if (b === undefined) throw new Error('no BackOff record');
  t.assert.equal(b.severityText, 'Warning');
  t.assert.equal(b.severityNumber, 13);
  t.assert.equal(b.body, 'Back-off pulling image "ghcr.io/example/web:2.0"');
  t.assert.equal(b.attributes['k8s.event.reason'], 'BackOff');
  t.assert.equal(b.attributes['k8s.event.type'], 'Warning');
  t.assert.equal(b.attributes['k8s.event.action'], 'Pulling');
  t.assert.equal(b.attributes['k8s.event.reporting_controller'], 'kubelet');
  t.assert.equal(b.attributes['k8s.event.uid'], created.metadata?.uid);
  t.assert.equal(b.resource['k8s.object.kind'], 'Pod');
  t.assert.equal(b.resource['k8s.object.name'], 'web-1');
  t.assert.equal(b.resource['k8s.object.uid'], podUid);
  t.assert.equal(b.resource['k8s.object.fieldpath'], 'spec.containers{app}');
  t.assert.equal(b.resource['k8s.namespace.name'], 'shop');
  t.assert.equal(b.resource['k8s.pod.uid'], podUid);
  t.assert.equal(b.resource['k8s.node.name'], 'node-a', 'pod metadata from the cache');
  t.assert.equal(b.resource['k8s.pod.ip'], '10.40.0.7', 'pod metadata from the cache');
  t.assert.equal(b.resource['k8s.cluster.name'], 'e2e');
  const scaled = first.find((r) => r.attributes['k8s.event.name'] === 'web.scaled');
  t.assert.equal(scaled?.severityNumber, 9, 'Normal → INFO');
  t.assert.equal(scaled?.resource['k8s.deployment.name'], 'web');
  t.assert.equal(scaled?.resource['k8s.deployment.uid'], 'dep-uid-1');

  // 2. Only the leader ships.
  const metric = 'sextant_enrichment_k8s_events_total';
  check(metricValue(await leader.metrics(), metric, 'outcome="enqueued"') >= 3, 'the leader enqueued the events');
  t.assert.equal(metricValue(await follower.metrics(), metric, 'outcome="enqueued"'), 0, 'the follower shipped nothing');

  // 3. A stream of events; the leader is SIGKILLed in the middle; the follower takes over.
  let seq = 0;
  let streaming = true;
  const stream = (async () => {
    while (streaming) {
      const n = seq++;
      await eventsApi.createNamespacedEvent({
        namespace: 'shop',
        body: { metadata: { name: `load.${n}` }, eventTime: micro(), reportingController: 'e2e', reportingInstance: 'e2e-1', action: 'Load', reason: 'Load', type: 'Normal', note: `seq=${n}`, regarding: { kind: 'ConfigMap', apiVersion: 'v1', name: 'marker', namespace: 'shop' } },
      });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  await new Promise((r) => setTimeout(r, 3000));
  const killedAt = Date.now();
  await leader.kill('SIGKILL');
  await until('the follower holds the Lease', async () => ((await holder()) === followerName ? true : undefined), 60_000, 250);
  const takeoverMs = Date.now() - killedAt;
  await new Promise((r) => setTimeout(r, 4000));
  streaming = false;
  await stream;
  const total = seq;
  // The killed replica comes back on its own queue directory, as its StatefulSet pod would: what it
  // had made durable but not yet exported (up to export.linger, 100 ms, of batches) goes out now.
  const beforeRestart = new Set((await eventRecords()).map((r) => r.attributes['k8s.event.name'] ?? '').filter((n) => n.startsWith('load.')));
  await leader.start();

  const counts = new Map<string, number>();
  await until(
    'every load event at the backend',
    async () => {
      counts.clear();
      for (const r of await eventRecords()) {
        const name = r.attributes['k8s.event.name'] ?? '';
        if (name.startsWith('load.')) counts.set(name, (counts.get(name) ?? 0) + 1);
      }
      return counts.size >= total ? true : undefined;
    },
    90_000,
    500,
  ).catch(() => undefined);
  const missing = Array.from({ length: total }, (_, i) => `load.${i}`).filter((n) => !counts.has(n));
  const repeats = [...counts.values()].reduce((a, n) => a + n - 1, 0);
  t.diagnostic(`load events: ${total}; takeover (kill → Lease held by the follower): ${takeoverMs} ms; repeats across the takeover: ${repeats} (window: one batch, ≤ ${BATCH}); exported by the killed replica after its restart: ${counts.size - beforeRestart.size}`);
  t.assert.deepEqual(missing, [], 'no event lost across the takeover and the restart');
  check(repeats <= BATCH, `repeats ${repeats} stay within one batch (${BATCH})`);
  check(metricValue(await follower.metrics(), metric, 'outcome="enqueued"') > 0, 'the new leader ships');

  // 4. The killed replica is back (as a follower); the leader is stopped gracefully (SIGTERM):
  // it flushes, saves the checkpoint and releases the Lease, so the handover repeats nothing.
  let seq2 = 0;
  let streaming2 = true;
  const stream2 = (async () => {
    while (streaming2) {
      const n = seq2++;
      await eventsApi.createNamespacedEvent({
        namespace: 'shop',
        body: { metadata: { name: `handover.${n}` }, eventTime: micro(), reportingController: 'e2e', reportingInstance: 'e2e-1', action: 'Load', reason: 'Handover', type: 'Normal', note: `seq=${n}`, regarding: { kind: 'ConfigMap', apiVersion: 'v1', name: 'marker', namespace: 'shop' } },
      });
      await new Promise((r) => setTimeout(r, 40));
    }
  })();
  await new Promise((r) => setTimeout(r, 2000));
  const stoppedAt = Date.now();
  await follower.kill('SIGTERM');
  await until('the restarted replica holds the Lease', async () => ((await holder()) === leaderName ? true : undefined), 60_000, 100);
  const handoverMs = Date.now() - stoppedAt;
  await new Promise((r) => setTimeout(r, 2000));
  streaming2 = false;
  await stream2;
  const counts2 = new Map<string, number>();
  await until(
    'every handover event at the backend',
    async () => {
      counts2.clear();
      for (const r of await eventRecords()) {
        const name = r.attributes['k8s.event.name'] ?? '';
        if (name.startsWith('handover.')) counts2.set(name, (counts2.get(name) ?? 0) + 1);
      }
      return counts2.size >= seq2 ? true : undefined;
    },
    90_000,
    500,
  ).catch(() => undefined);
  const missing2 = Array.from({ length: seq2 }, (_, i) => `handover.${i}`).filter((n) => !counts2.has(n));
  const repeats2 = [...counts2.values()].reduce((a, n) => a + n - 1, 0);
  t.diagnostic(`graceful handover: ${seq2} events, Lease taken over ${handoverMs} ms after SIGTERM, repeats: ${repeats2}`);
  t.assert.deepEqual(missing2, [], 'no event lost across the graceful handover');
  t.assert.equal(repeats2, 0, 'a graceful handover repeats nothing');
  // The restarted replica resumed from the Lease checkpoint, not from scratch; its own queue still
  // held (and now exported) what it had enqueued before the kill, so the takeover window counts once.
  const loadTotal = (await eventRecords()).filter((r) => (r.attributes['k8s.event.name'] ?? '').startsWith('load.')).length;
  t.diagnostic(`load events at the backend after the restart: ${loadTotal} for ${total} events`);
  check(loadTotal - total <= BATCH, `repeats of the load events after the restart (${loadTotal - total}) stay within one batch (${BATCH})`);
});
