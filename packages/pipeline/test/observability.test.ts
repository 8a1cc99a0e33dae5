import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { Writable } from 'node:stream';
import { getCACertificates } from 'node:tls';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDiskQueue, createLogger, createMetrics, registerQueueMetrics, tlsReader } from '../src/index.ts';
import { defer } from './fixtures/defer.ts';

void test('logger writes JSON lines with name and level, and redacts tokens and authorization headers', (t: TestContext) => {
  const lines: string[] = [];
  const dest = new Writable({ write(chunk: Buffer, _e, cb) { lines.push(chunk.toString()); cb(); } });
  const log = createLogger({ name: 'enrichment', level: 'debug', destination: dest });
  log.info({ headers: { authorization: 'Bearer s3cret', 'x-tenant': 'a' }, token: 'hec-123', exporter: { token: 'abc' } }, 'sending');
  log.debug('detail');
  log.child({ component: 'queue' }).trace('hidden');
  t.assert.equal(lines.length, 2);
  const rec = JSON.parse(lines[0] ?? '{}') as Record<string, unknown>;
  t.assert.equal(rec.name, 'enrichment');
  t.assert.equal(rec.msg, 'sending');
  t.assert.deepEqual(rec.headers, { authorization: '[redacted]', 'x-tenant': 'a' });
  t.assert.equal(rec.token, '[redacted]');
  t.assert.deepEqual(rec.exporter, { token: '[redacted]' });
  t.assert.doesNotMatch(lines.join(''), /s3cret|hec-123|abc/);
});

void test('metrics: Prometheus names, delivery-contract counters, default process metrics, queue gauges', async (t: TestContext) => {
  const m = createMetrics('enrichment');
  m.dropped().inc({ reason: 'dead_letter_full' });
  m.counter('received_records_total', { help: 'Records received.', labelNames: ['signal'] }).inc({ signal: 'logs' }, 100);
  m.histogram('export_duration_seconds', { help: 'Export time.' }).observe(0.02);
  t.assert.throws(() => m.counter('received', { help: 'x' }), /must end in _total/);
  t.assert.throws(() => createMetrics('Bad-Name'), /snake_case/);
  const dir = await mkdtemp(join(tmpdir(), 'sextant-metrics-'));
  defer(t, () => rm(dir, { recursive: true, force: true }));
  const q = await createDiskQueue({ dir, maxBytes: 1 << 20 });
  defer(t, () => q.close());
  await q.enqueue({ signal: 'logs', payload: Buffer.alloc(100) });
  registerQueueMetrics(m, q);
  const text = await m.text();
  t.assert.match(text, /sextant_enrichment_dropped_total\{reason="dead_letter_full"\} 1/);
  t.assert.match(text, /sextant_enrichment_received_records_total\{signal="logs"\} 100/);
  t.assert.match(text, /sextant_enrichment_export_duration_seconds_count 1/);
  t.assert.match(text, /sextant_enrichment_process_cpu_seconds_total/);
  t.assert.match(text, /sextant_enrichment_queue_depth 1/);
  t.assert.match(text, /sextant_enrichment_queue_max_bytes 1048576/);
  t.assert.equal(m.dropped(), m.dropped(), 'asking twice gives the same counter');
});

void test('TLS material keeps the default CAs next to a custom CA, and notices a rotated file', async (t: TestContext) => {
  const dir = await mkdtemp(join(tmpdir(), 'sextant-tls-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const caFile = join(dir, 'ca.pem');
  await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const read = tlsReader({ caFile });
  const m1 = await read();
  t.assert.equal(m1.ca?.length, getCACertificates('default').length + 1);
  t.assert.equal((await read()).version, m1.version, 'unchanged files are not re-read');
  await writeFile(caFile, '-----BEGIN CERTIFICATE-----\nBBBBBBBB\n-----END CERTIFICATE-----\n');
  const m2 = await read();
  t.assert.notEqual(m2.version, m1.version);
  t.assert.match(m2.ca?.at(-1) ?? '', /BBBBBBBB/);
  await t.assert.rejects(tlsReader({ caFile: join(dir, 'missing.pem') })(), /SEXTANT_PIPELINE_TLS_INVALID/);
});
