// Grace period of deleted pods, waitForPod, miss counting, exclusion and shutdown.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createMetadataCache } from '@sextant/kube-metadata';
import type { MissReason } from '@sextant/kube-metadata';
import { eventually, namespace, pod } from './fixtures.ts';

async function fileWith(t: { after: (fn: () => Promise<void>) => void }, items: unknown[]): Promise<{ path: string; write: (items: unknown[]) => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'objects.json');
  const write = (it: unknown[]): Promise<void> => writeFile(path, JSON.stringify({ kind: 'List', items: it }));
  await write(items);
  return { path, write };
}

void test('a deleted pod stays answerable for the grace period, then is evicted', async (t: TestContext) => {
  const job = pod({ name: 'backup-29000000-xk2p', uid: 'u-job', ip: '10.6.0.1', owner: { kind: 'Job', name: 'backup-29000000' } });
  const f = await fileWith(t, [job]);
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path, watch: true }, deletedPodGraceMs: 300 });
  t.after(() => cache.shutdown());
  await cache.start();
  await f.write([]);
  await eventually(() => cache.getPod({ uid: 'u-job' })?.deletedAt !== undefined, 10_000, 'delete');
  // Late logs of the short-lived Job still get metadata (FB#2670).
  t.assert.equal(cache.getPod({ namespace: 'default', name: 'backup-29000000-xk2p' })?.uid, 'u-job');
  t.assert.ok(cache.attributesFor(cache.getPod({ uid: 'u-job' })!).some(([k, v]) => k === 'k8s.cronjob.name' && v === 'backup'));
  await eventually(() => cache.getPod({ uid: 'u-job' }) === undefined, 10_000, 'eviction');
  t.assert.equal(cache.getPod({ namespace: 'default', name: 'backup-29000000-xk2p' }), undefined);
  t.assert.equal(cache.stats().evictedPods, 1);
  t.assert.equal(cache.stats().deletedPods, 0);
});

void test('waitForPod resolves when the pod appears 300 ms later (on the add, not by polling)', async (t: TestContext) => {
  const f = await fileWith(t, []);
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path, watch: true } });
  t.after(() => cache.shutdown());
  await cache.start();
  const late = pod({ name: 'late', uid: 'u-late', ip: '10.7.0.1' });
  const waiting = cache.waitForPod({ uid: 'u-late' }, 20_000);
  setTimeout(() => void f.write([late]), 300);
  const got = await waiting;
  t.assert.equal(got?.name, 'late');
  t.assert.equal(cache.stats().foundAfterWait, 1);
  t.assert.deepEqual(cache.stats().misses, { no_key: 0, not_synced: 0, not_found_after_wait: 0 });
});

void test('waitForPod gives up after the bounded wait for an unknown pod and counts the miss by reason', async (t: TestContext) => {
  const f = await fileWith(t, [pod({ name: 'known', uid: 'u-known' })]);
  const seen: MissReason[] = [];
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path }, onMiss: (r) => seen.push(r) });
  t.after(() => cache.shutdown());
  await cache.start();
  t.assert.equal(await cache.waitForPod({ uid: 'u-nobody' }, 150), undefined);
  t.assert.equal(await cache.waitForPod({ ip: '' }, 150), undefined);
  t.assert.equal((await cache.waitForPod({ uid: 'u-known' }, 150))?.name, 'known');
  t.assert.deepEqual(cache.stats().misses, { no_key: 1, not_synced: 0, not_found_after_wait: 1 });
  t.assert.deepEqual(seen, ['not_found_after_wait', 'no_key']);
});

void test('before the initial sync a miss is counted as not_synced; shutdown ends pending waits', async (t: TestContext) => {
  const f = await fileWith(t, []);
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path } });
  const pending = cache.waitForPod({ uid: 'u-x' }, 60_000);
  const syncWait = cache.waitForSync();
  await cache.shutdown();
  t.assert.equal(await pending, undefined);
  t.assert.equal(await syncWait, false);
  t.assert.equal(cache.stats().misses.not_synced, 1);
});

void test('exclusion by pod annotation and by namespace annotation (configurable key/value)', async (t: TestContext) => {
  const f = await fileWith(t, [
    namespace('quiet', {}, { 'sextant.io/exclude': 'true' }),
    namespace('loud'),
    pod({ name: 'a', namespace: 'quiet', uid: 'u-a' }),
    pod({ name: 'b', namespace: 'loud', uid: 'u-b' }),
    pod({ name: 'c', namespace: 'loud', uid: 'u-c', annotations: { 'sextant.io/exclude': 'true' } }),
    pod({ name: 'd', namespace: 'loud', uid: 'u-d', annotations: { 'example.com/logs': 'off' } }),
  ]);
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path } });
  t.after(() => cache.shutdown());
  await cache.start();
  const ex = (uid: string): boolean => cache.isExcluded(cache.getPod({ uid })!);
  t.assert.deepEqual(['u-a', 'u-b', 'u-c', 'u-d'].map(ex), [true, false, true, false]);
  const custom = createMetadataCache({ source: { kind: 'file', path: f.path }, exclude: { annotation: 'example.com/logs', value: 'off' } });
  t.after(() => custom.shutdown());
  await custom.start();
  t.assert.deepEqual(['u-a', 'u-b', 'u-c', 'u-d'].map((uid) => custom.isExcluded(custom.getPod({ uid })!)), [false, false, false, true]);
});

void test('start twice is refused; shutdown is idempotent; no restart after shutdown', async (t: TestContext) => {
  const f = await fileWith(t, []);
  const cache = createMetadataCache({ source: { kind: 'file', path: f.path } });
  await cache.start();
  await t.assert.rejects(cache.start(), /SEXTANT_KUBE_ALREADY_STARTED/);
  await cache.shutdown();
  await cache.shutdown();
  t.assert.equal(cache.synced, false);
  await t.assert.rejects(cache.start(), /SEXTANT_KUBE_SHUT_DOWN/);
});
