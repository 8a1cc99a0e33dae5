// Index semantics of the store, driven with trimmed real-shaped pods in the order watch events arrive.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { MetadataStore } from '../src/store.ts';
import { StringPool, trimPod } from '../src/trim.ts';
import type { PodRecord } from '../src/trim.ts';
import { pod } from './fixtures.ts';
import type { PodSpecInput } from './fixtures.ts';

const pool = new StringPool();
const filters = { podLabels: 'all', podAnnotations: 'all', namespaceLabels: 'all', namespaceAnnotations: 'all', nodeLabels: 'all', nodeAnnotations: 'all' } as const;
function rec(p: PodSpecInput): PodRecord {
  const r = trimPod(pod(p), filters, pool);
  if (r === undefined) throw new Error('fixture did not trim');
  return r;
}

function newStore(t: { after: (fn: () => void) => void }, graceMs = 60_000): MetadataStore {
  const s = new MetadataStore({ deletedPodGraceMs: graceMs });
  t.after(() => s.close());
  return s;
}

void test('pods are found by UID, namespace/name, IP and container ID (with or without runtime prefix)', (t: TestContext) => {
  const s = newStore(t);
  const p = rec({ name: 'api-0', namespace: 'prod', ip: '10.2.0.7', containers: [{ name: 'api', image: 'api:1', id: 'a'.repeat(64) }, { name: 'side', image: 'envoy:1.30', id: 'b'.repeat(64) }] });
  s.upsertPod(p);
  t.assert.equal(s.get({ uid: p.uid }), p);
  t.assert.equal(s.get({ namespace: 'prod', name: 'api-0' }), p);
  t.assert.equal(s.get({ namespace: 'other', name: 'api-0' }), undefined);
  t.assert.equal(s.get({ ip: '10.2.0.7' }), p);
  t.assert.equal(s.get({ containerId: 'a'.repeat(64) }), p);
  t.assert.equal(s.get({ containerId: `containerd://${'b'.repeat(64)}` }), p);
  t.assert.equal(s.get({ containerId: `cri-o://${'b'.repeat(64)}` }), p);
  t.assert.equal(s.get({ containerId: `docker://${'c'.repeat(64)}` }), undefined);
});

void test('a container restart moves the container-ID entry to the new ID', (t: TestContext) => {
  const s = newStore(t);
  const p1 = rec({ name: 'w', uid: 'u-w', ip: '10.2.0.8', containers: [{ name: 'c', image: 'x:1', id: '1'.repeat(64) }] });
  s.upsertPod(p1);
  const p2 = rec({ name: 'w', uid: 'u-w', ip: '10.2.0.8', containers: [{ name: 'c', image: 'x:1', id: '2'.repeat(64) }] });
  s.upsertPod(p2);
  t.assert.equal(s.get({ containerId: '2'.repeat(64) })?.uid, 'u-w');
  t.assert.equal(s.get({ containerId: '1'.repeat(64) }), undefined);
});

void test('IP reuse: the newest pod owns the IP; the old pod late update or delete does not take it back (OTC#42978)', (t: TestContext) => {
  const s = newStore(t);
  const old = rec({ name: 'old', uid: 'u-old', ip: '10.3.0.9', created: '2026-11-24T05:00:00Z' });
  s.upsertPod(old);
  t.assert.equal(s.get({ ip: '10.3.0.9' })?.uid, 'u-old');
  const fresh = rec({ name: 'new', uid: 'u-new', ip: '10.3.0.9', created: '2026-11-24T06:00:00Z' });
  s.upsertPod(fresh);
  t.assert.equal(s.get({ ip: '10.3.0.9' })?.uid, 'u-new');
  // The old pod's status update arrives late (still Running, terminating).
  s.upsertPod(rec({ name: 'old', uid: 'u-old', ip: '10.3.0.9', created: '2026-11-24T05:00:00Z', deletionTimestamp: '2026-11-24T06:00:01Z' }));
  t.assert.equal(s.get({ ip: '10.3.0.9' })?.uid, 'u-new', 'late update of the old pod must not steal the IP');
  // The old pod's delayed delete.
  s.deletePod(rec({ name: 'old', uid: 'u-old', ip: '10.3.0.9', created: '2026-11-24T05:00:00Z' }));
  t.assert.equal(s.get({ ip: '10.3.0.9' })?.uid, 'u-new', 'late delete of the old pod must not remove the new entry');
  t.assert.ok(s.get({ uid: 'u-old' })?.deletedAt !== undefined);
});

void test('IP reuse: when the new pod arrives before the old pod (relist order), the newer one still wins', (t: TestContext) => {
  const s = newStore(t);
  s.upsertPod(rec({ name: 'new', uid: 'u-new', ip: '10.3.1.1', created: '2026-11-24T06:00:00Z' }));
  s.upsertPod(rec({ name: 'old', uid: 'u-old', ip: '10.3.1.1', created: '2026-11-24T05:00:00Z' }));
  t.assert.equal(s.get({ ip: '10.3.1.1' })?.uid, 'u-new');
  // Same creation second: the later arrival is the newer pod.
  s.upsertPod(rec({ name: 'x1', uid: 'u-x1', ip: '10.3.1.2', created: '2026-11-24T06:00:00Z', started: '2026-11-24T06:00:00Z' }));
  s.upsertPod(rec({ name: 'x2', uid: 'u-x2', ip: '10.3.1.2', created: '2026-11-24T06:00:00Z', started: '2026-11-24T06:00:00Z' }));
  t.assert.equal(s.get({ ip: '10.3.1.2' })?.uid, 'u-x2');
});

void test('only running pods own IPs; a pod that stops running releases its IP', (t: TestContext) => {
  const s = newStore(t);
  s.upsertPod(rec({ name: 'p', uid: 'u-p', ip: '10.4.0.1', phase: 'Pending' }));
  t.assert.equal(s.get({ ip: '10.4.0.1' }), undefined);
  s.upsertPod(rec({ name: 'p', uid: 'u-p', ip: '10.4.0.1', phase: 'Running' }));
  t.assert.equal(s.get({ ip: '10.4.0.1' })?.uid, 'u-p');
  s.upsertPod(rec({ name: 'p', uid: 'u-p', ip: '10.4.0.1', phase: 'Succeeded' }));
  t.assert.equal(s.get({ ip: '10.4.0.1' }), undefined);
  t.assert.equal(s.get({ uid: 'u-p' })?.phase, 'Succeeded');
});

void test('hostNetwork pods are never indexed by IP (OTC#10021), but are found by the other keys', (t: TestContext) => {
  const s = newStore(t);
  const h = rec({ name: 'node-exporter-x', uid: 'u-h', ip: '10.0.0.10', hostNetwork: true, containers: [{ name: 'ne', image: 'ne:1', id: 'd'.repeat(64) }] });
  s.upsertPod(h);
  t.assert.equal(s.get({ ip: '10.0.0.10' }), undefined);
  t.assert.equal(s.get({ uid: 'u-h' })?.hostNetwork, true);
  t.assert.equal(s.get({ containerId: 'd'.repeat(64) })?.uid, 'u-h');
  // A regular pod with the same (host) IP would be indexed; the hostNetwork one never displaces it.
  const r = rec({ name: 'reg', uid: 'u-r', ip: '10.0.0.10', created: '2026-11-24T01:00:00Z' });
  s.upsertPod(r);
  s.upsertPod(rec({ name: 'node-exporter-y', uid: 'u-h2', ip: '10.0.0.10', hostNetwork: true, created: '2026-11-24T07:00:00Z' }));
  t.assert.equal(s.get({ ip: '10.0.0.10' })?.uid, 'u-r');
});

void test('name reuse: a StatefulSet pod recreated under the same name is found by its new UID; the old UID stays answerable (VEC#13467)', (t: TestContext) => {
  const s = newStore(t);
  s.upsertPod(rec({ name: 'db-0', uid: 'u-db-old', ip: '10.5.0.1', created: '2026-11-24T05:00:00Z' }));
  // A relist after a missed window: client-node reports the new object as an update of db-0.
  s.upsertPod(rec({ name: 'db-0', uid: 'u-db-new', ip: '10.5.0.2', created: '2026-11-24T06:00:00Z' }));
  t.assert.equal(s.get({ namespace: 'default', name: 'db-0' })?.uid, 'u-db-new');
  t.assert.ok(s.get({ uid: 'u-db-old' })?.deletedAt !== undefined, 'the replaced UID is retired into the grace period');
  t.assert.equal(s.get({ ip: '10.5.0.1' }), undefined);
  t.assert.equal(s.livePodCount, 1);
  // The old pod's delete arriving late changes nothing for the name.
  s.deletePod(rec({ name: 'db-0', uid: 'u-db-old', created: '2026-11-24T05:00:00Z' }));
  t.assert.equal(s.get({ namespace: 'default', name: 'db-0' })?.uid, 'u-db-new');
});
