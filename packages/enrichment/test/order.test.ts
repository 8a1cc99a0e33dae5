// export.order: source — a source's batches reach the backend in the order the service accepted
// them, even when the backend is slow and fails some requests (retries), while several sources
// are in flight at once. The backend is a real HTTP server on 127.0.0.1 that records what it
// accepted, in arrival order.
import { test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { writeFile } from 'node:fs/promises';
import { decodeLogsRequest, encodeLogsRequest } from '@sextant/otlp';
import { createEnrichmentService } from '@sextant/enrichment';
import { silentLogger } from '@sextant/pipeline';
import { tempDir, waitUntil } from './helpers.ts';

const SOURCES = ['node-a', 'node-b', 'node-c', 'node-d'];
const REQUESTS_PER_SOURCE = 30;
const RECORDS_PER_REQUEST = 3;

interface Backend {
  endpoint: string;
  /** Per source, the sequence numbers of accepted records in arrival order. */
  accepted: Map<string, number[]>;
  /** Most distinct sources in requests the backend was handling at the same time. */
  maxSourcesInFlight: number;
  failed: number;
  close(): Promise<void>;
}

/** Answers after 5–40 ms; about one request in four gets 503 (nothing of it is accepted). */
async function startBackend(): Promise<Backend> {
  const inFlight = new Map<number, Set<string>>();
  let nextId = 0;
  let seed = 12345;
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  const b: Backend = { endpoint: '', accepted: new Map(), maxSourcesInFlight: 0, failed: 0, close: () => Promise.resolve() };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const request = decodeLogsRequest(req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw);
      const records: Array<[string, number]> = [];
      for (const rl of request.resourceLogs) {
        const node = rl.resource?.attributes.find((a) => a.key === 'k8s.node.name')?.value?.value;
        const source = node?.case === 'stringValue' ? node.value : '?';
        for (const sl of rl.scopeLogs) {
          for (const r of sl.logRecords) {
            const body = r.body?.value;
            records.push([source, Number(body?.case === 'stringValue' ? body.value.split(' ').pop() : NaN)]);
          }
        }
      }
      const id = nextId++;
      inFlight.set(id, new Set(records.map(([s]) => s)));
      const sources = new Set<string>();
      for (const set of inFlight.values()) for (const s of set) sources.add(s);
      b.maxSourcesInFlight = Math.max(b.maxSourcesInFlight, sources.size);
      const fail = random() < 0.25;
      setTimeout(() => {
        inFlight.delete(id);
        if (fail) {
          b.failed++;
          res.writeHead(503, { 'retry-after': '0' });
          res.end();
          return;
        }
        for (const [source, seq] of records) {
          let list = b.accepted.get(source);
          if (list === undefined) b.accepted.set(source, (list = []));
          list.push(seq);
        }
        res.writeHead(200, { 'content-type': 'application/x-protobuf' });
        res.end();
      }, 5 + Math.floor(random() * 35));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  b.endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  b.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return b;
}

/**
 * Each source posts its requests one after another (the next once the previous got its 200),
 * all sources at once; returns the backend's view once every record arrived.
 */
async function run(t: { after: (fn: () => Promise<void>) => void }, order: 'none' | 'source'): Promise<Backend> {
  const cleanups: Array<() => Promise<void>> = [];
  t.after(async () => {
    for (const fn of cleanups.reverse()) await fn();
  });
  const dir = await tempDir('sextant-order-');
  cleanups.push(() => dir.remove());
  const objectsPath = join(dir.path, 'objects.json');
  await writeFile(objectsPath, JSON.stringify({ kind: 'List', items: [] }));
  const backend = await startBackend();
  cleanups.push(() => backend.close());
  const service = createEnrichmentService(
    {
      listen: { host: '127.0.0.1', port: 0 },
      metadata: { source: 'file', path: objectsPath, waitForPod: 0 },
      queue: { dir: join(dir.path, 'queue'), maxBytes: 64 * 1024 * 1024 },
      exporter: { protocol: 'otlp_http', endpoint: backend.endpoint },
      export: { concurrency: 4, order, initialBackoff: 10, maxBackoff: 50 },
    },
    { logger: silentLogger() },
  );
  cleanups.push(() => service.shutdown());
  await service.start();
  await waitUntil('ready', () => service.ready());
  const url = `http://127.0.0.1:${service.address()?.port}/v1/logs`;
  await Promise.all(SOURCES.map(async (node) => {
    for (let n = 0; n < REQUESTS_PER_SOURCE; n++) {
      // No pod key: enrichment passes the resource through without waiting; the node names the source.
      const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: numberedRequest(node, n * RECORDS_PER_REQUEST) });
      if (res.status !== 200) throw new Error(`${node} request ${n}: status ${res.status}`);
      await res.arrayBuffer();
    }
  }));
  const total = SOURCES.length * REQUESTS_PER_SOURCE * RECORDS_PER_REQUEST;
  await waitUntil('every record at the backend', () => [...backend.accepted.values()].reduce((a, l) => a + new Set(l).size, 0) >= total, 60_000);
  return backend;
}

/** One request of one resource (as the node collector sends) whose records say "<node> seq <n>". */
function numberedRequest(node: string, first: number): Uint8Array {
  const str = (value: string) => ({ value: { case: 'stringValue' as const, value } });
  return encodeLogsRequest({
    resourceLogs: [{
      resource: { attributes: [{ key: 'k8s.node.name', value: str(node) }, { key: 'log.file.path', value: str(`/var/log/${node}.log`) }] },
      scopeLogs: [{
        logRecords: Array.from({ length: RECORDS_PER_REQUEST }, (_, i) => ({ timeUnixNano: BigInt(first + i), body: str(`${node} seq ${first + i}`) })),
      }],
    }],
  });
}

function outOfOrder(list: readonly number[]): number {
  let n = 0;
  for (let i = 1; i < list.length; i++) if ((list[i] as number) < (list[i - 1] as number)) n++;
  return n;
}

void test('export.order source: each source arrives in order through a slow, failing backend, with several sources in flight', async (t) => {
  const backend = await run(t, 'source');
  t.assert.equal(backend.failed > 0, true, 'the backend failed some requests, so batches were retried');
  for (const node of SOURCES) {
    const list = backend.accepted.get(node) ?? [];
    const expected = Array.from({ length: REQUESTS_PER_SOURCE * RECORDS_PER_REQUEST }, (_, i) => i);
    t.assert.deepEqual(list, expected, `${node}: every record once, in the order it was accepted`);
  }
  t.assert.equal(backend.maxSourcesInFlight >= 2, true, `several sources in flight at once (saw at most ${backend.maxSourcesInFlight})`);
});

void test('export.order none: every record arrives through the same backend (order not kept)', async (t) => {
  const backend = await run(t, 'none');
  let reordered = 0;
  for (const node of SOURCES) {
    const list = backend.accepted.get(node) ?? [];
    t.assert.deepEqual([...new Set(list)].sort((a, b) => a - b), Array.from({ length: REQUESTS_PER_SOURCE * RECORDS_PER_REQUEST }, (_, i) => i), `${node}: every record arrived`);
    reordered += outOfOrder(list);
  }
  t.diagnostic(`order none: ${reordered} records arrived before an earlier one of their source; ${backend.failed} requests failed`);
});
