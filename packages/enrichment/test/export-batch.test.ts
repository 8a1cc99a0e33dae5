import { test } from 'node:test';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeLogsRequest } from '@sextant/otlp';
import { listenLocal, logsRequest, resourceAttrs, startService, tempDir, waitUntil } from './helpers.ts';

interface Harness {
  stop(): Promise<void>;
  /** test.seq of each resource, per backend request, in arrival order */
  sends: string[][];
  /** Answers the backend holds while `hold` returns true. */
  held: ServerResponse[];
  post(seq: number): Promise<number>;
}

/** A real backend (node:http) recording what each export request carried, and the service exporting to it. */
async function start(
  t: { after: (fn: () => Promise<void>) => void },
  exportConfig: { concurrency?: number; linger?: number },
  hold: () => boolean = () => false,
): Promise<Harness> {
  // One cleanup, in reverse order of start (node:test runs after-hooks first-in first-out).
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = await tempDir('sextant-export-batch-');
  cleanups.push(() => dir.remove());
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: [] }));
  const sends: string[][] = [];
  const held: ServerResponse[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      sends.push(resourceAttrs(decodeLogsRequest(body)).map((attrs) => attrs.find(([k]) => k === 'test.seq')?.[1] ?? '?'));
      if (hold()) {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const backend = await listenLocal(server);
  cleanups.push(backend.close);
  const { service, logsUrl: url } = await startService(
    {
      metadata: { source: 'file', path: objectsPath, waitForPod: 10 },
      queue: { dir: join(dir.path, 'queue'), maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: backend.url, compression: 'gzip' },
      export: { initialBackoff: 50, maxBackoff: 200, ...exportConfig },
    },
    cleanups,
  );
  return {
    stop: () => service.shutdown(),
    sends,
    held,
    async post(seq) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: logsRequest([{ attributes: [['test.seq', String(seq)]], records: 3 }]) });
      await res.arrayBuffer();
      return res.status;
    },
  };
}

void test('queue items waiting for the backend leave merged in one export request, every record once', async (t) => {
  // A backend that holds its first answer until the test releases it, so later items pile up.
  let holding = true;
  const h = await start(t, { concurrency: 1, linger: 0 }, () => holding);
  const N = 12;
  // One at a time: each request is its own queue item (no ingest coalescing).
  for (let i = 0; i < N; i++) t.assert.equal(await h.post(i), 200);
  await waitUntil('first export held', () => h.held.length === 1);
  holding = false;
  for (const res of h.held) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();

  const seen = (): string[] => h.sends.flat();
  await waitUntil('every item exported', () => new Set(seen()).size === N);
  t.assert.deepEqual([...new Set(seen())].map(Number).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
  t.assert.equal(seen().length, N, 'no item sent twice when the backend accepts');
  t.assert.equal(h.sends.length < N, true, `${N} queue items went out in ${h.sends.length} export requests`);
});

for (const linger of [0, 1000] as const) {
  void test(`under a steady trickle, export.linger ${linger} ms: items ${linger === 0 ? 'leave one by one' : 'that arrive within the linger leave in one export request'}`, async (t) => {
    const h = await start(t, { linger });
    const N = 3;
    for (let i = 0; i < N; i++) {
      t.assert.equal(await h.post(i), 200);
      if (linger === 0) await waitUntil(`item ${i} exported`, () => h.sends.flat().length === i + 1);
      else await new Promise((r) => setTimeout(r, 30));
    }
    await waitUntil('every item exported', () => h.sends.flat().length === N);
    t.assert.deepEqual(h.sends.flat().sort(), ['0', '1', '2'], 'each record once');
    if (linger === 0) t.assert.equal(h.sends.length, N, 'one export request per item');
    else t.assert.deepEqual(h.sends, [['0', '1', '2']], 'one export request for the three');
  });
}

void test('a graceful shutdown sends what is lingering instead of leaving it in the queue', async (t) => {
  const h = await start(t, { linger: 5000 });
  for (let i = 0; i < 3; i++) t.assert.equal(await h.post(i), 200);
  const t0 = Date.now();
  await h.stop();
  t.assert.deepEqual(h.sends.flat().sort(), ['0', '1', '2'], 'every accepted item reached the backend before the service stopped');
  t.assert.equal(Date.now() - t0 < 4000, true, 'without waiting out the linger');
});
