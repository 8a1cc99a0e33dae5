// Heap of the enrichment service with N pods in its metadata cache (file source, same trimming
// as the API-server source). Prints one JSON line.
//
//   node bench/enrichment/heap.ts [--pods 10000] [--modules]
//     Generates the objects itself (the same ones run.ts writes) and re-runs itself with --expose-gc.
//     --modules also prints the heap each module adds when imported alone (one child process each).
//   node --expose-gc bench/enrichment/heap.ts <objects.json> <dir>
//     What run.ts calls, with its own objects file.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { benchPods, podObject } from './objects.ts';

const { values: opts, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    pods: { type: 'string', default: '10000' },
    modules: { type: 'boolean', default: false },
    'import-one': { type: 'string' },
  },
});
const gc = (globalThis as { gc?: () => void }).gc;

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);

async function measure(path: string, queueDir: string): Promise<{ heapUsed: number; rss: number; pods: number }> {
  // Imported here so that --import-one measures a bare process.
  const { createEnrichmentService } = await import('@sextant/enrichment');
  const { silentLogger } = await import('@sextant/pipeline');
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      metadata: { source: 'file', path },
      queue: { dir: queueDir, maxBytes: '64Mi' },
      exporter: { endpoint: 'http://127.0.0.1:9' },
    },
    { logger: silentLogger() },
  );
  await service.start();
  while (!service.ready()) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 200));
  const heapUsed = heapAfterGc();
  const text = await service.metricsText();
  const pods = Number(/sextant_enrichment_metadata_cache_objects\{kind="pods"\} (\d+)/.exec(text)?.[1] ?? 'NaN');
  const rss = process.memoryUsage().rss;
  await service.shutdown();
  return { heapUsed, rss, pods };
}

async function writeObjects(dir: string, count: number): Promise<{ objectsPath: string; bytesPerPod: number }> {
  const objectsPath = join(dir, 'objects.json');
  const pods = benchPods(count, 50);
  const items: object[] = [];
  for (let n = 0; n < 50; n++) items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `bench-${n}`, uid: crypto.randomUUID(), labels: { team: `t${n}` } } });
  for (let n = 0; n < count / 50; n++) items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n}`, uid: crypto.randomUUID(), labels: { 'topology.kubernetes.io/zone': `z${n % 3}` } } });
  const rsDone = new Set<string>();
  for (const p of pods) {
    if (!rsDone.has(p.replicaSet + p.namespace)) {
      rsDone.add(p.replicaSet + p.namespace);
      items.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: p.replicaSet, namespace: p.namespace, uid: crypto.randomUUID(), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: p.replicaSet.replace(/-[a-z0-9]+$/, ''), uid: crypto.randomUUID(), controller: true }] } });
    }
    items.push(podObject(p, true));
  }
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  await writeFile(objectsPath, json);
  await writeFile(join(dir, 'empty.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }));
  return { objectsPath, bytesPerPod: Math.round(json.length / count) };
}

// Modules measured one per process by --modules (heap added after GC by importing it alone),
// each resolved from the package that depends on it.
const MODULES: ReadonlyArray<readonly [string, string]> = [
  ['@kubernetes/client-node', 'packages/kube-metadata'],
  ['@sextant/otlp', 'packages/enrichment'],
  ['@sextant/pipeline', 'packages/enrichment'],
  ['@sextant/kube-metadata', 'packages/enrichment'],
  ['@sextant/enrichment', 'bench/enrichment'],
  ['fastify', 'packages/enrichment'],
  ['prom-client', 'packages/enrichment'],
  ['pino', 'packages/pipeline'],
  ['undici', 'packages/enrichment'],
];
const REPO = new URL('../../', import.meta.url).pathname;

if (opts['import-one'] !== undefined) {
  if (gc === undefined) throw new Error('run with --expose-gc');
  const [name = '', from = ''] = opts['import-one'].split('@@');
  const resolved = pathToFileURL(createRequire(join(REPO, from, 'package.json')).resolve(name)).href;
  const before = heapAfterGc();
  await import(resolved);
  process.stdout.write(`${JSON.stringify({ module: name, heapAdded: heapAfterGc() - before })}\n`);
} else if (positionals.length === 2) {
  // run.ts's form: objects file and scratch dir given.
  if (gc === undefined) throw new Error('run with --expose-gc');
  const [objectsPath = '', dir = ''] = positionals;
  // Baseline first (an empty objects file), in the same process, so module code is already loaded.
  const empty = await measure(join(dir, 'empty.json'), join(dir, 'q-empty'));
  const full = await measure(objectsPath, join(dir, 'q-full'));
  process.stdout.write(`${JSON.stringify({ empty, full })}\n`);
} else {
  const count = Number(opts.pods);
  const dir = await mkdtemp(join(tmpdir(), 'sextant-heap-'));
  try {
    const { objectsPath, bytesPerPod } = await writeObjects(dir, count);
    const self = new URL(import.meta.url).pathname;
    const out = execFileSync(process.execPath, ['--expose-gc', self, objectsPath, dir], { encoding: 'utf8' });
    const h = JSON.parse(out) as { empty: { heapUsed: number; rss: number }; full: { heapUsed: number; rss: number; pods: number } };
    const cache = h.full.heapUsed - h.empty.heapUsed;
    process.stdout.write(
      `heap with ${h.full.pods} pods cached: ${mb(h.full.heapUsed)} MiB heapUsed (empty cache: ${mb(h.empty.heapUsed)} MiB; ` +
        `cache: ${mb(cache)} MiB, ${Math.round(cache / count)} B/pod; RSS ${mb(h.full.rss)} MiB; input ${bytesPerPod} B of JSON per pod)  (goal < 50 MB)\n`,
    );
    if (opts.modules) {
      for (const [m, from] of MODULES) {
        const line = execFileSync(process.execPath, ['--expose-gc', self, '--import-one', `${m}@@${from}`], { encoding: 'utf8' });
        const r = JSON.parse(line) as { heapAdded: number };
        process.stdout.write(`  import ${m}: +${mb(r.heapAdded)} MiB\n`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
