import { test } from 'node:test';
import { createServer } from 'node:http';
import type { ServerResponse } from 'node:http';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeLogsRequest } from '@sextant/otlp';
import { createEnrichmentService } from '@sextant/enrichment';
import { silentLogger } from '@sextant/pipeline';
import { listenLocal, logsRequest, resourceAttrs, tempDir, waitUntil } from './helpers.ts';

void test('queue items waiting for the backend leave merged in one export request, every record once', async (t) => {
  // One cleanup, in reverse order of start (node:test runs after-hooks first-in first-out).
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = await tempDir('sextant-export-batch-');
  cleanups.push(() => dir.remove());
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: [] }));

  // A backend that holds its first answer until the test releases it, so later items pile up.
  const held: ServerResponse[] = [];
  let holding = true;
  const seen: string[] = [];
  let requests = 0;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests++;
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
      for (const attrs of resourceAttrs(decodeLogsRequest(body))) {
        const seq = attrs.find(([k]) => k === 'test.seq')?.[1];
        if (seq !== undefined) seen.push(seq);
      }
      if (holding) {
        held.push(res);
        return;
      }
      res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
    });
  });
  const backend = await listenLocal(server);
  cleanups.push(backend.close);

  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      metadata: { source: 'file', path: objectsPath, waitForPod: 10 },
      queue: { dir: join(dir.path, 'queue'), maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: backend.url, compression: 'gzip' },
      export: { concurrency: 1, initialBackoff: 50, maxBackoff: 200 },
    },
    { logger: silentLogger() },
  );
  cleanups.push(() => service.shutdown());
  await service.start();
  await waitUntil('ready', () => service.ready());
  const url = `http://127.0.0.1:${service.address()?.port}/v1/logs`;

  const N = 12;
  for (let i = 0; i < N; i++) {
    // One at a time: each request is its own queue item (no ingest coalescing).
    const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: logsRequest([{ attributes: [['test.seq', String(i)]], records: 3 }]) });
    t.assert.equal(res.status, 200);
  }
  await waitUntil('first export held', () => held.length === 1);
  holding = false;
  for (const res of held) res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();

  await waitUntil('every item exported', () => new Set(seen).size === N);
  t.assert.deepEqual([...new Set(seen)].map(Number).sort((a, b) => a - b), Array.from({ length: N }, (_, i) => i));
  t.assert.equal(seen.length, N, 'no item sent twice when the backend accepts');
  t.assert.equal(requests < N, true, `${N} queue items went out in ${requests} export requests`);
});

for (const linger of [0, 1000] as const) {
  void test(`under a steady trickle, export.linger ${linger} ms: items ${linger === 0 ? 'leave one by one' : 'that arrive within the linger leave in one export request'}`, async (t) => {
    const cleanups: Array<() => Promise<void>> = [];
    t.after(async () => {
      for (const fn of cleanups.reverse()) await fn();
    });
    const dir = await tempDir('sextant-export-linger-');
    cleanups.push(() => dir.remove());
    const objectsPath = join(dir.path, 'objects.json');
    await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: [] }));
    const sends: string[][] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(Buffer.concat(chunks)) : Buffer.concat(chunks);
        sends.push(resourceAttrs(decodeLogsRequest(body)).map((attrs) => attrs.find(([k]) => k === 'test.seq')?.[1] ?? '?'));
        res.writeHead(200, { 'content-type': 'application/x-protobuf' }).end();
      });
    });
    const backend = await listenLocal(server);
    cleanups.push(backend.close);
    const service = createEnrichmentService(
      {
        listen: { host: '127.0.0.1', port: 0 },
        metadata: { source: 'file', path: objectsPath, waitForPod: 10 },
        queue: { dir: join(dir.path, 'queue'), maxBytes: 64 * 1024 * 1024 },
        exporter: { protocol: 'otlp_http', endpoint: backend.url, compression: 'gzip' },
        export: { linger },
      },
      { logger: silentLogger() },
    );
    cleanups.push(() => service.shutdown());
    await service.start();
    await waitUntil('ready', () => service.ready());
    const url = `http://127.0.0.1:${service.address()?.port}/v1/logs`;
    const N = 3;
    for (let i = 0; i < N; i++) {
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: logsRequest([{ attributes: [['test.seq', String(i)]], records: 2 }]) });
      t.assert.equal(res.status, 200);
      if (linger === 0) await waitUntil(`item ${i} exported`, () => sends.flat().length === i + 1);
      else await new Promise((r) => setTimeout(r, 30));
    }
    await waitUntil('every item exported', () => sends.flat().length === N);
    t.assert.deepEqual(sends.flat().sort(), ['0', '1', '2'], 'each record once');
    if (linger === 0) t.assert.equal(sends.length, N, 'one export request per item');
    else t.assert.deepEqual(sends, [['0', '1', '2']], 'one export request for the three');
  });
}
