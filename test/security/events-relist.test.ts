// Acceptance (issue 10, events): a new leader whose checkpoint is older than the API server can
// still watch from (410 Gone: the API server runs without a watch cache and compacts etcd every
// second) relists and ships only what is newer than the checkpoint, so a takeover after a long
// outage neither misses nor repeats events.
import { ok as check } from 'node:assert/strict';
import { test } from 'node:test';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CoordinationV1Api, EventsV1Api } from '@kubernetes/client-node';
import { freePort, startCluster, startOtelCollector } from '@sextant/test-env';
import { flatRecords, serviceProcess, testDir, until } from './helpers.ts';

function micro(d = new Date()): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z') as unknown as Date;
}

void test('events: a checkpoint too old to watch from (410) relists and ships only newer events', { timeout: 300_000 }, async (t) => {
  const { dir, cleanups } = await testDir(t, 'sextant-events-relist-');
  const [cluster, backend] = await Promise.all([startCluster({ extraApiServerArgs: ['--watch-cache=false', '--etcd-compaction-interval=1s'] }), startOtelCollector()]);
  cleanups.push(() => cluster.stop(), () => backend.stop());
  const eventsApi = cluster.adminClient.makeApiClient(EventsV1Api);
  const leases = cluster.adminClient.makeApiClient(CoordinationV1Api);
  await cluster.createNamespace('ops');
  const mk = (name: string) =>
    eventsApi.createNamespacedEvent({
      namespace: 'ops',
      body: { metadata: { name }, eventTime: micro(), reportingController: 'e2e', reportingInstance: 'e2e-1', action: 'Test', reason: 'Relist', type: 'Normal', note: name, regarding: { kind: 'ConfigMap', apiVersion: 'v1', name: 'marker', namespace: 'ops' } },
    });
  await mk('before.1');
  const cut = await mk('before.2');
  // The checkpoint a previous leader left: everything up to before.2 was shipped.
  await leases.createNamespacedLease({
    namespace: 'default',
    body: { metadata: { name: 'sextant-events', annotations: { 'sextant.io/events-checkpoint': JSON.stringify({ '': cut.metadata?.resourceVersion }) } }, spec: { leaseDurationSeconds: 4 } },
  });
  await mk('after.1');
  await mk('after.2');
  // Let etcd compact past the checkpoint (and make more revisions so the compaction moves).
  for (let i = 0; i < 6; i++) {
    await eventsApi.patchNamespacedEvent({ name: 'after.2', namespace: 'ops', body: [{ op: 'replace', path: '/note', value: `after.2 v${i}` }] }).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 1000));
  }
  const port = await freePort();
  const replica = await serviceProcess(dir, 'replica', port, {
    log: { level: 'info' },
    metadata: { source: 'kubeconfig', path: cluster.kubeconfigPath, informers: { namespaces: false, owners: false } },
    queue: { dir: join(dir, 'queue') },
    exporter: { protocol: 'otlp_http', endpoint: backend.httpEndpoint, compression: 'gzip' },
    events: { enabled: true, identity: 'replica', lease: { namespace: 'default', duration: '4s', renewInterval: '1s', renewDeadline: '3s', retryInterval: '500ms' }, batch: { maxWait: '200ms' } },
  });
  cleanups.push(() => replica.kill());
  await replica.start();
  const names = await until(
    'the events after the checkpoint',
    async () => {
      const got = flatRecords(await backend.readOutput())
        .filter((r) => r.scope === 'sextant.k8s.events' && r.resource['k8s.namespace.name'] === 'ops')
        .map((r) => r.attributes['k8s.event.name'] ?? '');
      return got.includes('after.1') && got.includes('after.2') ? got : undefined;
    },
    90_000,
    500,
  );
  const log = await readFile(join(dir, 'replica.log'), 'utf8');
  check(log.includes('relisting'), 'the watch from the old checkpoint got 410 and the leader relisted');
  t.assert.deepEqual(names.filter((n) => n.startsWith('before.')), [], 'nothing at or below the checkpoint is shipped again');
  t.assert.deepEqual([...new Set(names)].sort(), ['after.1', 'after.2'], 'each newer event (after.2 in its latest version) is shipped');
});
