import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createMetadataCache, isKubeMetadataError } from '@sextant/kube-metadata';
import type { MetadataSource } from '@sextant/kube-metadata';

void test('in-cluster outside a pod fails start() with SEXTANT_KUBE_NOT_IN_CLUSTER', async (t: TestContext) => {
  const saved = { host: process.env.KUBERNETES_SERVICE_HOST, port: process.env.KUBERNETES_SERVICE_PORT };
  delete process.env.KUBERNETES_SERVICE_HOST;
  delete process.env.KUBERNETES_SERVICE_PORT;
  t.after(() => {
    if (saved.host !== undefined) process.env.KUBERNETES_SERVICE_HOST = saved.host;
    if (saved.port !== undefined) process.env.KUBERNETES_SERVICE_PORT = saved.port;
  });
  const cache = createMetadataCache({ source: { kind: 'in-cluster' } });
  await t.assert.rejects(cache.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_NOT_IN_CLUSTER'));
});

void test('a missing kubeconfig or unknown context fails start() with SEXTANT_KUBE_KUBECONFIG naming the valid contexts', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const missing = createMetadataCache({ source: { kind: 'kubeconfig', path: join(dir, 'nope') } });
  await t.assert.rejects(missing.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_KUBECONFIG'));
  const path = join(dir, 'kubeconfig');
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1' } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'prod', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'prod',
    }),
  );
  const wrong = createMetadataCache({ source: { kind: 'kubeconfig', path, context: 'staging' } });
  await t.assert.rejects(wrong.start(), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_KUBECONFIG') && /staging/.test((e as Error).message) && /prod/.test((e as Error).message));
});

void test('an unreachable API server is reported as a coded LIST error and retried, never synced; shutdown stops it', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'kube-metadata-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const path = join(dir, 'kubeconfig');
  // Port 1 on loopback: connection refused at once, a real network error.
  await writeFile(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://127.0.0.1:1', 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'u', user: { token: 'x' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  const codes: string[] = [];
  const cache = createMetadataCache({ source: { kind: 'kubeconfig', path }, informers: { namespaces: false, owners: false }, backoff: { initialMs: 20, maxMs: 40 }, onError: (e) => codes.push(e.code) });
  await cache.start();
  t.assert.equal(await cache.waitForSync(1000), false);
  t.assert.ok(codes.length >= 2, `retried: ${codes.length} errors`);
  t.assert.ok(codes.every((c) => c === 'SEXTANT_KUBE_LIST_FAILED'), codes.join(','));
  await cache.shutdown();
  const after = codes.length;
  await new Promise((r) => setTimeout(r, 200));
  t.assert.equal(codes.length, after, 'no retries after shutdown');
});

void test('bad option values are refused up front with the option named', (t: TestContext) => {
  const bad = (o: Record<string, unknown>): unknown => createMetadataCache({ source: { kind: 'file', path: '/x' }, ...o });
  for (const [o, name] of [
    [{ waitForPodMs: Number.NaN }, 'waitForPodMs'],
    [{ backoff: { initialMs: 0 } }, 'backoff.initialMs'],
    [{ deletedPodGraceMs: Infinity }, 'deletedPodGraceMs'],
  ] as const) {
    t.assert.throws(() => bad(o), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_OPTION') && (e as Error).message.includes(name));
  }
  t.assert.throws(() => createMetadataCache({ source: { kind: 'cloud' } as unknown as MetadataSource }), (e: unknown) => isKubeMetadataError(e, 'SEXTANT_KUBE_INVALID_OPTION') && /in-cluster/.test((e as Error).message));
});
