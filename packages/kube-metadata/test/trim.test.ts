import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { StringPool, trimPod } from '../src/trim.ts';
import { pod } from './fixtures.ts';

const keepNone = (): boolean => false;

void test('a pod is trimmed to the fields in use; managedFields, spec and kubectl last-applied are dropped', (t: TestContext) => {
  const raw = pod({
    name: 'web-1',
    namespace: 'shop',
    uid: 'u-1',
    ip: '10.9.0.1',
    node: 'node-7',
    created: '2026-11-24T05:00:00Z',
    started: '2026-11-24T05:00:02Z',
    owner: { kind: 'ReplicaSet', name: 'web-5f6d7', uid: 'rs-uid' },
    labels: { app: 'web', 'pod-template-hash': '5f6d7' },
    annotations: { 'sextant.io/exclude': 'false', 'team.example.com/owner': 'payments' },
    containers: [{ name: 'app', image: 'ghcr.io/x/web:2.1', id: 'e'.repeat(64) }],
  });
  const keep = (k: string): boolean => k === 'sextant.io/exclude';
  const p = trimPod(raw, { podLabels: 'all', podAnnotations: keep, namespaceLabels: keepNone, namespaceAnnotations: keepNone, nodeLabels: keepNone, nodeAnnotations: keepNone }, new StringPool());
  t.assert.ok(p !== undefined);
  t.assert.deepEqual(
    {
      uid: p.uid,
      name: p.name,
      namespace: p.namespace,
      labels: p.labels,
      annotations: p.annotations,
      owner: p.owner,
      nodeName: p.nodeName,
      hostNetwork: p.hostNetwork,
      podIPs: p.podIPs,
      phase: p.phase,
      startTime: p.startTime,
      creationTimestamp: p.creationTimestamp,
      deletionTimestamp: p.deletionTimestamp,
      containers: p.containers.map((c) => ({ ...c, imageId: c.imageId?.replace(/[0-9a-f]{64}$/, 'H') })),
    },
    {
      uid: 'u-1',
      name: 'web-1',
      namespace: 'shop',
      labels: { app: 'web', 'pod-template-hash': '5f6d7' },
      annotations: { 'sextant.io/exclude': 'false' },
      owner: { kind: 'ReplicaSet', name: 'web-5f6d7', uid: 'rs-uid' },
      nodeName: 'node-7',
      hostNetwork: false,
      podIPs: ['10.9.0.1'],
      phase: 'Running',
      startTime: '2026-11-24T05:00:02Z',
      creationTimestamp: '2026-11-24T05:00:00Z',
      deletionTimestamp: undefined,
      containers: [{ name: 'app', image: 'ghcr.io/x/web:2.1', containerId: 'e'.repeat(64), imageId: 'ghcr.io/x/web@sha256:H' }],
    },
  );
  const json = JSON.stringify(p);
  t.assert.ok(!json.includes('managedFields') && !json.includes('last-applied') && !json.includes('readinessProbe'));
  t.assert.ok(json.length < 800, `trimmed JSON is ${json.length} bytes`);
});

void test('kubectl last-applied is dropped even when every annotation is kept; dual-stack IPs are kept in order', (t: TestContext) => {
  const raw = pod({ name: 'p', ip: '10.9.0.2' });
  (raw.status as Record<string, unknown>).podIPs = [{ ip: '10.9.0.2' }, { ip: 'fd00::2' }];
  const p = trimPod(raw, { podLabels: 'all', podAnnotations: 'all', namespaceLabels: 'all', namespaceAnnotations: 'all', nodeLabels: 'all', nodeAnnotations: 'all' }, new StringPool());
  t.assert.deepEqual(p?.annotations, { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '8080' });
  t.assert.deepEqual(p?.podIPs, ['10.9.0.2', 'fd00::2']);
});

void test('objects without uid/name/namespace are rejected rather than cached half-empty', (t: TestContext) => {
  const filters = { podLabels: 'all', podAnnotations: 'all', namespaceLabels: 'all', namespaceAnnotations: 'all', nodeLabels: 'all', nodeAnnotations: 'all' } as const;
  t.assert.equal(trimPod({ kind: 'Pod', metadata: { name: 'x', namespace: 'y' } }, filters, new StringPool()), undefined);
  t.assert.equal(trimPod({ kind: 'Pod' }, filters, new StringPool()), undefined);
  t.assert.equal(trimPod(null, filters, new StringPool()), undefined);
});
