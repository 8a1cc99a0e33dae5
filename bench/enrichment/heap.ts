// Heap of the enrichment service with N pods in its metadata cache (file source, same trimming
// as the API-server source). Run by run.ts as `node --expose-gc bench/enrichment/heap.ts <objects.json> <dir>`;
// prints one JSON line.
import { join } from 'node:path';
import { createEnrichmentService } from '@sextant/enrichment';
import { silentLogger } from '@sextant/pipeline';

const [objectsPath = '', dir = ''] = process.argv.slice(2);
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

function heapAfterGc(): number {
  for (let i = 0; i < 3; i++) gc?.();
  return process.memoryUsage().heapUsed;
}

async function measure(path: string, queueDir: string): Promise<{ heapUsed: number; rss: number; pods: number }> {
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

// Baseline first (an empty objects file), in the same process, so module code is already loaded.
const empty = await measure(join(dir, 'empty.json'), join(dir, 'q-empty'));
const full = await measure(objectsPath, join(dir, 'q-full'));
process.stdout.write(`${JSON.stringify({ empty, full })}\n`);
