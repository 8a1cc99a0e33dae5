import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createFileExporter, createSplunkHecExporter } from '../src/index.ts';

async function tempDir(t: TestContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-hec-file-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

void test('HEC: events from the injected decoder, Splunk token from a file, gzip; status mapping', async (t: TestContext) => {
  const seen: Array<{ url: string; auth: string | undefined; events: unknown[] }> = [];
  const statuses = [200, 503, 400, 401];
  const s = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = gunzipSync(Buffer.concat(chunks)).toString();
      seen.push({ url: req.url ?? '', auth: req.headers.authorization, events: text.split('\n').map((l) => JSON.parse(l) as unknown) });
      const st = statuses.shift() ?? 200;
      res.writeHead(st, { 'content-type': 'application/json' }).end(JSON.stringify({ text: st === 200 ? 'Success' : 'Invalid data format', code: st === 200 ? 0 : 6 }));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  t.after(() => new Promise<void>((r) => { s.closeAllConnections(); s.close(() => r()); }));
  const dir = await tempDir(t);
  await writeFile(join(dir, 'hec-token'), '00000000-1111-2222-3333-444444444444\n');
  const ex = createSplunkHecExporter({
    endpoint: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    token: { fromFile: join(dir, 'hec-token') },
    index: 'k8s',
    toHecEvents: (signal, payload) => payload.toString().split(',').map((m) => ({ event: m, sourcetype: `otel:${signal}` })),
  });
  t.after(() => ex.shutdown());
  t.assert.deepEqual(await ex.export({ signal: 'logs', payload: Buffer.from('hello,world') }), { kind: 'ok' });
  t.assert.deepEqual(seen[0], {
    url: '/services/collector/event',
    auth: 'Splunk 00000000-1111-2222-3333-444444444444',
    events: [{ index: 'k8s', event: 'hello', sourcetype: 'otel:logs' }, { index: 'k8s', event: 'world', sourcetype: 'otel:logs' }],
  });
  t.assert.equal((await ex.export({ signal: 'logs', payload: Buffer.from('x') })).kind, 'retryable');
  const bad = await ex.export({ signal: 'logs', payload: Buffer.from('x') });
  t.assert.equal(bad.kind, 'failure');
  t.assert.match(bad.kind === 'failure' ? bad.error.message : '', /HTTP 400: .*Invalid data format/);
  t.assert.equal((await ex.export({ signal: 'logs', payload: Buffer.from('x') })).kind, 'retryable', 'a bad token holds the queue');
  const broken = createSplunkHecExporter({ endpoint: 'http://127.0.0.1:1', token: 't', toHecEvents: () => { throw new Error('not OTLP'); } });
  const r = await broken.export({ signal: 'logs', payload: Buffer.from('?') });
  t.assert.equal(r.kind, 'failure');
  t.assert.match(r.kind === 'failure' ? r.error.message : '', /SEXTANT_PIPELINE_EXPORT_TRANSFORM/);
  await broken.shutdown();
});

void test('file exporter: length-prefixed payloads per signal, JSON-lines transform, rotation by size', async (t: TestContext) => {
  const dir = await tempDir(t);
  const raw = createFileExporter({ path: join(dir, 'otlp-{signal}.bin') });
  await raw.export({ signal: 'logs', payload: Buffer.from('abc') });
  await raw.export({ signal: 'logs', payload: Buffer.from('de') });
  await raw.export({ signal: 'traces', payload: Buffer.from('z') });
  await raw.shutdown();
  t.assert.deepEqual(await readFile(join(dir, 'otlp-logs.bin')), Buffer.from([0, 0, 0, 3, 97, 98, 99, 0, 0, 0, 2, 100, 101]));
  t.assert.deepEqual(await readFile(join(dir, 'otlp-traces.bin')), Buffer.from([0, 0, 0, 1, 122]));

  const lines = createFileExporter({ path: join(dir, 'out.jsonl'), maxBytes: 40, maxFiles: 2, transform: (i) => `${JSON.stringify({ s: i.signal, p: i.payload.toString() })}\n` });
  for (let i = 0; i < 6; i++) t.assert.deepEqual(await lines.export({ signal: 'logs', payload: Buffer.from(`n${i}`) }), { kind: 'ok' });
  await lines.shutdown();
  t.assert.deepEqual((await readdir(dir)).filter((n) => n.startsWith('out.jsonl')).sort(), ['out.jsonl', 'out.jsonl.1', 'out.jsonl.2']);
  // 22-byte lines against a 40-byte cap: one line per file, the newest two rotated files kept.
  t.assert.equal(await readFile(join(dir, 'out.jsonl'), 'utf8'), '{"s":"logs","p":"n5"}\n');
  t.assert.equal(await readFile(join(dir, 'out.jsonl.1'), 'utf8'), '{"s":"logs","p":"n4"}\n');
  t.assert.equal(await readFile(join(dir, 'out.jsonl.2'), 'utf8'), '{"s":"logs","p":"n3"}\n');
});
