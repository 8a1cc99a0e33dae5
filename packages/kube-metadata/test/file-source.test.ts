import { mkdtemp, rm, writeFile, rename } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { stringify } from 'yaml';
import { createMetadataCache, isKubeMetadataError } from '@sextant/kube-metadata';
import { eventually, namespace, node, owned, pod } from './fixtures.ts';

async function tmp(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

function yamlDocs(objs: unknown[]): string {
  return objs.map((o) => stringify(o)).join('---\n');
}

void test('file source: multi-doc YAML of every supported kind is loaded, synced and indexed', async (t: TestContext) => {
  const dir = await tmp(t);
  const path = join(dir, 'objects.yaml');
  const p = pod({ name: 'web-7d9f8b6c5-abcde', namespace: 'shop', ip: '10.1.0.5', owner: { kind: 'ReplicaSet', name: 'web-7d9f8b6c5' }, labels: { app: 'web', 'pod-template-hash': '7d9f8b6c5' } });
  await writeFile(
    path,
    yamlDocs([
      namespace('shop'),
      node('node-1'),
      owned('Deployment', 'apps/v1', 'web', 'shop'),
      owned('ReplicaSet', 'apps/v1', 'web-7d9f8b6c5', 'shop', { kind: 'Deployment', name: 'web' }),
      owned('CronJob', 'batch/v1', 'nightly', 'shop'),
      owned('Job', 'batch/v1', 'nightly-29000000', 'shop', { kind: 'CronJob', name: 'nightly' }),
      owned('StatefulSet', 'apps/v1', 'db', 'shop'),
      owned('DaemonSet', 'apps/v1', 'agent', 'shop'),
      p,
    ]),
  );
  const cache = createMetadataCache({ source: { kind: 'file', path } });
  t.after(() => cache.shutdown());
  t.assert.equal(cache.synced, false);
  await cache.start();
  t.assert.equal(cache.synced, true);
  t.assert.equal(await cache.waitForSync(10), true);
  const uid = (p.metadata as { uid: string }).uid;
  const byUid = cache.getPod({ uid });
  t.assert.equal(byUid?.name, 'web-7d9f8b6c5-abcde');
  t.assert.equal(cache.getPod({ namespace: 'shop', name: 'web-7d9f8b6c5-abcde' })?.uid, uid);
  t.assert.equal(cache.getPod({ ip: '10.1.0.5' })?.uid, uid);
  const cid = byUid?.containers[0]?.containerId ?? '';
  t.assert.match(cid, /^[0-9a-f]{64}$/);
  t.assert.equal(cache.getPod({ containerId: cid })?.uid, uid);
  t.assert.equal(cache.getPod({ containerId: `containerd://${cid}` })?.uid, uid);
  t.assert.equal(cache.getNamespace('shop')?.name, 'shop');
  const s = cache.stats();
  t.assert.deepEqual([s.pods, s.namespaces, s.replicaSets, s.jobs], [1, 1, 1, 1]);
  t.assert.ok(cache.attributesFor(byUid!).some(([k, v]) => k === 'k8s.deployment.name' && v === 'web'));
});

void test('file source: a JSON List works too, and a watched file reload adds, updates and deletes pods', async (t: TestContext) => {
  const dir = await tmp(t);
  const path = join(dir, 'objects.json');
  const a = pod({ name: 'a', ip: '10.1.0.1' });
  const b = pod({ name: 'b', ip: '10.1.0.2' });
  await writeFile(path, JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [a, b] }));
  const cache = createMetadataCache({ source: { kind: 'file', path, watch: true }, deletedPodGraceMs: 60_000 });
  t.after(() => cache.shutdown());
  await cache.start();
  t.assert.equal(cache.stats().pods, 2);
  const c = pod({ name: 'c', ip: '10.1.0.3' });
  const b2 = { ...b, status: { ...(b.status as object), phase: 'Succeeded' } };
  // Replace by rename, as kubectl > file or an editor would.
  await writeFile(join(dir, 'tmp.json'), JSON.stringify({ kind: 'List', items: [b2, c] }));
  await rename(join(dir, 'tmp.json'), path);
  await eventually(() => cache.getPod({ name: 'c', namespace: 'default' }) !== undefined, 10_000, 'reload');
  const gone = cache.getPod({ uid: (a.metadata as { uid: string }).uid });
  t.assert.ok(gone?.deletedAt !== undefined, 'a pod missing from the file is deleted but kept for the grace period');
  t.assert.equal(cache.getPod({ name: 'b', namespace: 'default' })?.phase, 'Succeeded');
  t.assert.equal(cache.getPod({ ip: '10.1.0.2' }), undefined, 'a pod that is no longer running owns no IP');
  t.assert.deepEqual([cache.stats().pods, cache.stats().deletedPods], [2, 1]);
});

void test('file source: unreadable and invalid files fail start() with coded errors', async (t: TestContext) => {
  const dir = await tmp(t);
  const missing = createMetadataCache({ source: { kind: 'file', path: join(dir, 'nope.yaml') } });
  await t.assert.rejects(missing.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_FILE_UNREADABLE'));
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'kind: Secret\nmetadata: {name: x}\n');
  const c2 = createMetadataCache({ source: { kind: 'file', path: bad } });
  await t.assert.rejects(c2.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_FILE_INVALID') && /Secret/.test((e as Error).message));
  await writeFile(bad, 'kind: Pod\nmetadata: [unclosed\n');
  const c3 = createMetadataCache({ source: { kind: 'file', path: bad } });
  await t.assert.rejects(c3.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_FILE_INVALID'));
  t.assert.throws(() => createMetadataCache({ source: { kind: 'file', path: '' } }), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_OPTION'));
  t.assert.throws(
    () => createMetadataCache({ source: { kind: 'file', path: bad }, deletedPodGraceMs: -1 }),
    (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_OPTION') && /deletedPodGraceMs/.test((e as Error).message),
  );
});
