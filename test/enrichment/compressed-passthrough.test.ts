// The compressed splice against the real OpenTelemetry Collector (test/env) as the backend: node
// collector style requests (zstd frames or gzip members H, R per resource, @sextant/otlp
// encodeZstdFramedLogs / encodeGzipFramedLogs) are exported with their R frames untouched
// (otlp_http, the same compression), and the collector decodes the concatenated frames (Go's
// klauspost zstd; compress/gzip, multistream, past the 'SX' extra field) to the same records, with
// the enriched resources.
import { test } from 'node:test';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createEnrichmentService } from '@sextant/enrichment';
import { encodeGzipFramedLogs, encodeZstdFramedLogs } from '@sextant/otlp';
import { silentLogger } from '@sextant/pipeline';
import { startOtelCollector } from '@sextant/test-env';
import { exportedResources, logsRequest } from './otlp.ts';

const pods = Array.from({ length: 4 }, (_, i) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name: `web-${i}`, namespace: 'shop', uid: `uid-web-${i}`, labels: { app: 'web' } },
  spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'ghcr.io/example/web:2.1' }] },
  status: { phase: 'Running', podIP: `10.0.1.${i + 1}`, podIPs: [{ ip: `10.0.1.${i + 1}` }] },
}));

for (const codec of ['zstd', 'gzip'] as const) {
  void test(`${codec} pass-through: the real collector receives every record of every resource, enriched`, async (t) => {
    // One cleanup, last started first (node:test runs after-hooks first-in first-out).
    const cleanups: Array<() => Promise<void>> = [];
    t.after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });
    const dir = await mkdtemp(join(tmpdir(), `sextant-${codec}-passthrough-`));
    cleanups.push(() => rm(dir, { recursive: true, force: true }));
    const backend = await startOtelCollector();
    cleanups.push(() => backend.stop());
    const objectsPath = join(dir, 'objects.json');
    await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: [{ apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'shop', uid: 'ns' } }, ...pods] }));
    const service = createEnrichmentService(
      {
        listen: { host: '127.0.0.1', port: 0 },
        metadata: { source: 'file', path: objectsPath, clusterName: 'passthrough', waitForPod: '100ms' },
        queue: { dir: join(dir, 'queue'), maxBytes: '64Mi' },
        exporter: { protocol: 'otlp_http', endpoint: backend.httpEndpoint, compression: codec },
        export: { initialBackoff: '100ms', maxBackoff: '1s' },
      },
      { logger: silentLogger() },
    );
    cleanups.push(() => service.shutdown());
    await service.start();
    while (!service.ready()) await new Promise((r) => setTimeout(r, 20));
    const url = `http://127.0.0.1:${service.address()?.port}/v1/logs`;

    const sent = new Map<string, string[]>(); // pod uid -> bodies
    for (let req = 0; req < 3; req++) {
      const resources = pods.map((p, i) => {
        // ~100 B records, 60+ per resource: above the 4 KiB per resource the compressed splice needs.
        const bodies = Array.from({ length: 60 + i * 7 }, (_, j) => `req ${req} pod ${i} line ${j} GET /api/${(req * 131 + i * 17 + j * 7) % 1000} 200 ${'ua'.repeat(30)}`);
        sent.set(`${p.metadata.uid}/${req}`, bodies);
        return { attributes: [['k8s.pod.uid', p.metadata.uid], ['k8s.container.name', 'app']] as const, bodies };
      });
      const request = logsRequest(resources);
      const frames = codec === 'zstd' ? await encodeZstdFramedLogs(request) : await encodeGzipFramedLogs(request);
      t.assert.equal(frames.length, 2 * pods.length);
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf', 'content-encoding': codec }, body: Buffer.concat(frames) });
      await res.arrayBuffer();
      t.assert.equal(res.status, 200);
    }
    const total = [...sent.values()].reduce((n, b) => n + b.length, 0);
    const lines = await backend.waitFor((ls) => exportedResources(ls).reduce((n, r) => n + r.bodies.length, 0) >= total, 20_000);
    const got = exportedResources(lines);
    t.assert.equal(got.length, 3 * pods.length, 'every resource exported once');
    for (const r of got) {
      const uid = r.attributes.get('k8s.pod.uid') ?? '';
      const req = /^req (\d+)/.exec(r.bodies[0] ?? '')?.[1] ?? '';
      t.assert.deepEqual(r.bodies, sent.get(`${uid}/${req}`), `records of ${uid} request ${req}`);
      t.assert.equal(r.attributes.get('k8s.pod.name'), uid.replace('uid-', ''));
      t.assert.equal(r.attributes.get('k8s.cluster.name'), 'passthrough');
      t.assert.equal(r.attributes.get('container.image.tag'), '2.1');
      t.assert.deepEqual(r.duplicateKeys, []);
    }
  });
}
