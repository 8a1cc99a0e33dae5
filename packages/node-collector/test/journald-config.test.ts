// The journald config section (defaults, validation with coded errors) and its counters on a registry.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { Registry } from 'prom-client';
import { readFile } from 'node:fs/promises';
import { CollectorError, JOURNAL_ERROR_CODES } from '../src/index.ts';
import { resolveJournaldConfig } from '../src/journald/config.ts';
import { registerJournaldMetrics } from '../src/journald/metrics.ts';
import type { JournaldSourceStats } from '../src/index.ts';

void test('journald section: off unless present, defaults, and invalid values named with a coded error', (t: TestContext) => {
  t.assert.equal(resolveJournaldConfig(undefined), false);
  t.assert.equal(resolveJournaldConfig(false), false);
  t.assert.equal(resolveJournaldConfig({ enabled: false, units: { include: ['x'] } }), false);
  const on = resolveJournaldConfig(true);
  t.assert.ok(on !== false);
  t.assert.deepStrictEqual(on.dirs, ['/var/log/journal', '/run/log/journal']);
  t.assert.equal(on.startAt, 'beginning');
  t.assert.deepStrictEqual(on.units, { include: [], exclude: [] });
  const c = resolveJournaldConfig({ units: { include: ['kubelet.service', 'containerd*'] }, startAt: 'end', batch: { maxRecords: 10 } });
  t.assert.ok(c !== false);
  t.assert.deepStrictEqual(c.units.include, ['kubelet.service', 'containerd*']);
  t.assert.equal(c.batch.maxRecords, 10);
  t.assert.equal(c.batch.maxAgeMs, 200);
  for (const [input, named] of [
    [{ unit: ['x'] }, 'journald.unit='],
    [{ startAt: 'middle' }, 'journald.startAt="middle"'],
    [{ units: { include: 'kubelet.service' } }, 'journald.units.include="kubelet.service"'],
    [{ dirs: [] }, 'journald.dirs=[]'],
    [{ batch: { maxRecords: 0 } }, 'journald.batch.maxRecords=0'],
  ] as const) {
    t.assert.throws(
      () => resolveJournaldConfig(input),
      (e: unknown) => e instanceof CollectorError && e.code === 'SEXTANT_COLLECTOR_CONFIG_INVALID' && e.message.includes(named),
      named,
    );
  }
});

void test('journald counters read the source stats at scrape time, with reasons', async (t: TestContext) => {
  const registry = new Registry();
  const stats: JournaldSourceStats = {
    entries: 10, records: 7, filtered: 3, filesOpened: 2, skippedEntries: { SEXTANT_COLLECTOR_JOURNAL_CORRUPT: 1 }, skippedFields: { compression_lz4: 2 },
    fileErrors: { SEXTANT_COLLECTOR_JOURNAL_TRUNCATED: 1 }, batchesAcked: 4, batchesRejected: 1, checkpointWrites: 3, checkpointErrors: 0, readErrors: 0,
  };
  registerJournaldMetrics(registry, () => stats);
  let text = await registry.metrics();
  t.assert.match(text, /sextant_node_collector_journald_entries_total 10/);
  t.assert.match(text, /sextant_node_collector_journald_skipped_fields_total\{reason="compression_lz4"\} 2/);
  t.assert.match(text, /sextant_node_collector_journald_file_errors_total\{code="SEXTANT_COLLECTOR_JOURNAL_TRUNCATED"\} 1/);
  t.assert.match(text, /sextant_node_collector_journald_batches_total\{result="rejected"\} 1/);
  stats.entries = 12;
  text = await registry.metrics();
  t.assert.match(text, /sextant_node_collector_journald_entries_total 12/);
});

void test('every journald error code is documented in the package README', async (t: TestContext) => {
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  for (const code of JOURNAL_ERROR_CODES) t.assert.equal(readme.includes(`\`${code}\``), true, `${code} is documented`);
});
