// Heap cost of the metadata cache per pod, measured, not estimated.
//
//   node --expose-gc bench/kube-metadata/run.ts [--pods 10000] [--mode api|file|raw|all]
//
// Each mode runs in a fresh child process so one measurement's garbage cannot skew the next, and
// the generated objects are dropped before the baseline is taken.
// Generates realistic pods (managedFields, kubectl last-applied annotation, probes, volumes,
// 1–3 containers) spread over Deployments, StatefulSets, DaemonSets and Jobs, then measures heapUsed
// after a full GC before and after the cache has synced them:
// - api:  the real informer path (our LIST/WATCH loop and transport, the default informerEngine) against a local
//         HTTP server that answers LIST and holds an idle WATCH open, as an API server would;
// - file: the file source (same trimming and indexes, without the LIST/WATCH loop's own name map).
// Also prints what the same pods cost untrimmed (plain JSON.parse), for comparison.
import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
// bench/ has no dependency on the package; it reads the package source directly.
import { createMetadataCache } from '../../packages/kube-metadata/src/index.ts';
import { namespace, node, owned, pod } from '../../packages/kube-metadata/test/fixtures.ts';

const { values } = parseArgs({ options: { pods: { type: 'string', default: '10000' }, mode: { type: 'string', default: 'all' }, child: { type: 'boolean', default: false }, data: { type: 'string' }, runs: { type: 'string', default: '3' } } });
const N = Number(values.pods);
const gcFn = (globalThis as { gc?: () => void }).gc;
if (gcFn === undefined) {
  console.error('run with: node --expose-gc bench/kube-metadata/run.ts');
  process.exit(2);
}
const gc: () => void = gcFn;

async function settle(): Promise<number> {
  // Let in-flight I/O callbacks finish so their buffers are garbage before the GCs.
  await new Promise((r) => setTimeout(r, 1000));
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

function world(n: number): { pods: unknown[]; namespaces: unknown[]; nodes: unknown[]; replicaSets: unknown[]; jobs: unknown[] } {
  const namespaces = Array.from({ length: 40 }, (_, i) => namespace(`team-${i}`, { team: `t${i}` }));
  const nodes = Array.from({ length: 100 }, (_, i) => node(`node-${i}`, { 'topology.kubernetes.io/zone': `zone-${i % 3}` }));
  const pods: unknown[] = [];
  const replicaSets: unknown[] = [];
  const jobs: unknown[] = [];
  let ip = 0;
  const nextIp = (): string => {
    ip++;
    return `10.${(ip >> 16) & 255}.${(ip >> 8) & 255}.${ip & 255}`;
  };
  const images = ['ghcr.io/acme/api:2.14.1', 'docker.io/library/nginx:1.27.3', 'registry.acme.internal:5000/payments/ledger:v3.2.0', 'quay.io/prometheus/node-exporter:v1.8.2'];
  let d = 0;
  while (pods.length < n) {
    const ns = `team-${d % 40}`;
    const kind = d % 10;
    const app = `svc-${d}`;
    const common = { 'app.kubernetes.io/name': app, 'app.kubernetes.io/instance': `${app}-prod`, 'app.kubernetes.io/version': '1.4.2', 'app.kubernetes.io/managed-by': 'Helm', 'helm.sh/chart': `${app}-0.3.1` };
    const containers = (i: number): Array<{ name: string; image: string }> =>
      Array.from({ length: 1 + ((d + i) % 3 === 0 ? 1 : 0) + (d % 7 === 0 ? 1 : 0) }, (_, c) => ({ name: c === 0 ? 'app' : `sidecar-${c}`, image: images[(d + c) % images.length] ?? 'x:1' }));
    if (kind < 7) {
      const hash = (0x5f6d7c8b9 + d).toString(16).slice(0, 9);
      const rs = `${app}-${hash}`;
      replicaSets.push(owned('ReplicaSet', 'apps/v1', rs, ns, { kind: 'Deployment', name: app }));
      for (let i = 0; i < 20 && pods.length < n; i++) {
        pods.push(pod({ name: `${rs}-${i.toString(36).padStart(5, 'x')}`, namespace: ns, ip: nextIp(), node: `node-${(d + i) % 100}`, owner: { kind: 'ReplicaSet', name: rs }, labels: { app, 'pod-template-hash': hash, ...common }, containers: containers(i) }));
      }
    } else if (kind === 7) {
      for (let i = 0; i < 5 && pods.length < n; i++) {
        pods.push(pod({ name: `${app}-${i}`, namespace: ns, ip: nextIp(), node: `node-${(d + i) % 100}`, owner: { kind: 'StatefulSet', name: app }, labels: { app, 'statefulset.kubernetes.io/pod-name': `${app}-${i}`, 'controller-revision-hash': `${app}-7c9d`, ...common }, containers: containers(i) }));
      }
    } else if (kind === 8) {
      for (let i = 0; i < 100 && pods.length < n; i++) {
        pods.push(pod({ name: `${app}-${i.toString(36).padStart(5, 'q')}`, namespace: ns, ip: `10.0.${i}.10`, hostNetwork: i % 2 === 0, node: `node-${i}`, owner: { kind: 'DaemonSet', name: app }, labels: { app, 'controller-revision-hash': '6d5b7', 'pod-template-generation': '3', ...common }, containers: containers(i) }));
      }
    } else {
      const job = `${app}-2939${String(d).padStart(4, '0')}`;
      jobs.push(owned('Job', 'batch/v1', job, ns, { kind: 'CronJob', name: app }));
      pods.push(pod({ name: `${job}-abcde`, namespace: ns, ip: nextIp(), phase: 'Succeeded', node: `node-${d % 100}`, owner: { kind: 'Job', name: job }, labels: { 'batch.kubernetes.io/job-name': job, 'batch.kubernetes.io/controller-uid': crypto.randomUUID(), ...common }, containers: containers(0) }));
    }
    d++;
  }
  return { pods, namespaces, nodes, replicaSets, jobs };
}

function metaOnly(o: unknown): unknown {
  const m = (o as { metadata: unknown }).metadata;
  return { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: m };
}

const API_PATHS = { pods: '/api/v1/pods', namespaces: '/api/v1/namespaces', replicaSets: '/apis/apps/v1/replicasets', jobs: '/apis/batch/v1/jobs' } as const;

/** Parent: writes the LIST bodies and the file-source file, so children never hold the generated objects. */
async function writeData(dir: string, n: number): Promise<void> {
  const w = world(n);
  const list = (kind: string, items: unknown[]): string => JSON.stringify({ kind, apiVersion: 'v1', metadata: { resourceVersion: '1000' }, items });
  await writeFile(join(dir, 'pods.json'), list('PodList', w.pods));
  await writeFile(join(dir, 'namespaces.json'), list('PartialObjectMetadataList', w.namespaces.map(metaOnly)));
  await writeFile(join(dir, 'replicaSets.json'), list('PartialObjectMetadataList', w.replicaSets.map(metaOnly)));
  await writeFile(join(dir, 'jobs.json'), list('PartialObjectMetadataList', w.jobs.map(metaOnly)));
  await writeFile(join(dir, 'objects.json'), JSON.stringify({ kind: 'List', items: [...w.namespaces, ...w.nodes, ...w.replicaSets, ...w.jobs, ...w.pods] }));
}

async function measureApi(data: string): Promise<void> {
  // Buffers live outside the V8 heap, so the server's copy does not count as cache memory.
  const bodies = new Map<string, Buffer>();
  for (const [k, path] of Object.entries(API_PATHS)) bodies.set(path, await readFile(join(data, `${k}.json`)));
  const listBytes = bodies.get('/api/v1/pods')?.length ?? 0;
  const watches = new Set<ServerResponse>();
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.searchParams.get('watch') === 'true') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write(JSON.stringify({ type: 'BOOKMARK', object: { kind: 'Pod', metadata: { resourceVersion: '1000' } } }) + '\n');
      watches.add(res);
      res.on('close', () => watches.delete(res));
      return;
    }
    const body = bodies.get(url.pathname);
    if (body === undefined) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  const dir = await mkdtemp(join(tmpdir(), 'km-bench-'));
  const kubeconfig = join(dir, 'kubeconfig');
  await writeFile(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'b', cluster: { server: `http://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
      users: [{ name: 'b', user: {} }],
      contexts: [{ name: 'b', context: { cluster: 'b', user: 'b' } }],
      'current-context': 'b',
    }),
  );
  const before = await settle();
  const t0 = performance.now();
  const cache = createMetadataCache({ source: { kind: 'kubeconfig', path: kubeconfig }, onError: (e) => console.error('  cache error:', e.message) });
  await cache.start();
  await cache.waitForSync(120_000);
  const syncMs = performance.now() - t0;
  const after = await settle();
  const s = cache.stats();
  const mu = process.memoryUsage();
  report('api (LIST/WATCH path)', s.pods, after - before, syncMs, `pod LIST body ${(listBytes / 1e6).toFixed(1)} MB (held by the fake server outside the heap), process heapUsed ${(after / 1e6).toFixed(1)} MB, external ${(mu.external / 1e6).toFixed(1)} MB, rss ${(mu.rss / 1e6).toFixed(0)} MB`);
  await attrBench(cache);
  await cache.shutdown();
  for (const r of watches) r.destroy();
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
}

async function measureFile(data: string): Promise<void> {
  const path = join(data, 'objects.json');
  // Warm up on a small file so compiled code and one-off module state are in the baseline.
  const warm = createMetadataCache({ source: { kind: 'file', path: join(data, 'namespaces.json') } });
  await warm.start().catch(() => undefined);
  await warm.shutdown();
  const before = await settle();
  const t0 = performance.now();
  const cache = createMetadataCache({ source: { kind: 'file', path } });
  await cache.start();
  const syncMs = performance.now() - t0;
  const after = await settle();
  const mu = process.memoryUsage();
  report('file', cache.stats().pods, after - before, syncMs, `process heapUsed ${(after / 1e6).toFixed(1)} MB, external ${(mu.external / 1e6).toFixed(1)} MB, rss ${(mu.rss / 1e6).toFixed(0)} MB`);
  await cache.shutdown();
}

async function attrBench(cache: ReturnType<typeof createMetadataCache>): Promise<void> {
  const uids: string[] = [];
  for (const p of (cache as unknown as { store: { pods: Map<string, unknown> } }).store.pods.keys()) uids.push(p);
  let n = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < 1000) {
    for (let i = 0; i < 1000; i++) {
      const p = cache.getPod({ uid: uids[(n + i) % uids.length] ?? '' });
      if (p !== undefined) cache.attributesFor(p, 'app');
    }
    n += 1000;
  }
  const dt = performance.now() - t0;
  console.log(`  lookup + attributesFor: ${Math.round((n / dt) * 1000).toLocaleString('en')} per second (memoised per pod)`);
  await Promise.resolve();
}

function report(what: string, pods: number, bytes: number, syncMs: number, extra: string): void {
  console.log(`${what}: ${pods} pods, heap +${(bytes / 1e6).toFixed(1)} MB, ${Math.round(bytes / pods)} bytes/pod, synced in ${Math.round(syncMs)} ms ${extra}`);
}

async function measureRaw(data: string): Promise<void> {
  const text = await readFile(join(data, 'pods.json'), 'utf8');
  const before = await settle();
  const parsed = (JSON.parse(text) as { items: unknown[] }).items;
  const after = await settle();
  console.log(`untrimmed (JSON.parse of the same pods): ${Math.round((after - before) / parsed.length)} bytes/pod, ${(text.length / parsed.length / 1024).toFixed(1)} KB JSON/pod`);
}

if (values.child) {
  const data = values.data ?? '';
  if (values.mode === 'api') await measureApi(data);
  else if (values.mode === 'file') await measureFile(data);
  else await measureRaw(data);
} else {
  const data = await mkdtemp(join(tmpdir(), 'km-bench-'));
  await writeData(data, N);
  const modes = values.mode === 'all' ? ['raw', 'api', 'file'] : [values.mode ?? 'api'];
  const runs = Number(values.runs);
  for (const m of modes) {
    for (let i = 0; i < (m === 'raw' ? 1 : runs); i++) {
      const r = spawnSync(process.execPath, ['--expose-gc', fileURLToPath(import.meta.url), '--child', '--mode', m, '--data', data], { stdio: 'inherit' });
      if (r.status !== 0) process.exit(r.status ?? 1);
    }
  }
  await rm(data, { recursive: true, force: true });
  console.log(`node ${process.version}, ${N} pods`);
}
