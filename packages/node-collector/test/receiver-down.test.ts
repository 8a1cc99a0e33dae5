// Receiver down: enrichment answers 503 (with Retry-After), then refuses connections, then recovers. Nothing is
// lost, reading pauses at the in-flight bound (asserted on the collector's own metrics), checkpoints do not move
// while nothing is acked, and reading resumes. LESSONS.md "Checkpoints that move before delivery", "Queues during outages".
import { test } from 'node:test';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeCollector } from '../src/index.ts';
import { runWriter, Tally } from './helpers/lines.ts';
import { startReceiver } from './helpers/receiver.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

void test('receiver down (503, then unreachable): nothing lost, in-flight bytes bounded, checkpoints held, reading resumes', { timeout: 120000 }, async (t) => {
  const root = await tempDir(t, 'nc-down-root-');
  const ckpt = await tempDir(t, 'nc-down-ckpt-');
  const tally = new Tally(['d'], 100000);
  const rx = await startReceiver(tally.onBatch);
  t.after(() => rx.close());
  rx.setMode('unavailable');
  const maxInflightBytes = 512 * 1024;
  const readBufferBytes = 64 * 1024;
  const maxRecordBytes = 64 * 1024;
  const collector = createNodeCollector(testConfig(root, ckpt, [rx.endpoint], { maxInflightBytes, readBufferBytes, maxRecordBytes, unhealthyForMs: 200 }));
  await collector.start();
  t.after(() => collector.shutdown());
  const metricsUrl = `http://127.0.0.1:${collector.statusAddress()?.port}/metrics`;
  const metric = async (name: string, labels = ''): Promise<number> => metricValue(await (await fetch(metricsUrl)).text(), name, labels) ?? 0;

  const dir = join(root, 'down_writer_uid-d', 'app');
  await mkdir(dir, { recursive: true });
  const writer = runWriter({ dir, id: 'd', linesPerSecond: 10000, rotateBytes: 1024 * 1024, keep: 5, lateLines: 5, phases: [{ lines: 60000, rotation: 'rename' }] });
  t.after(() => writer.kill());

  // phase 1: 503 with Retry-After. Reading must stop at the bound, and no checkpoint may move.
  await waitFor(async () => (await metric('sextant_node_collector_read_paused_total')) >= 1, 20000, 'reading to pause at the in-flight bound');
  t.assert.equal(await metric('sextant_node_collector_batches_total', '{result="ok"}'), 0);
  t.assert.equal(collector.files().every((f) => f.committedOffset === 0), true, 'no checkpoint moved before an ack');
  const saved = JSON.parse(await readFile(join(ckpt, 'checkpoints.json'), 'utf8')) as { files: { offset: number }[] };
  t.assert.equal(saved.files.every((f) => f.offset === 0), true, 'persisted checkpoints stay at 0');
  t.assert.equal((await fetch(metricsUrl.replace('/metrics', '/healthz'))).status, 200);

  // phase 2: unreachable
  await rx.stop();
  await waitFor(async () => (await metric('sextant_node_collector_export_retries_total', '{reason="connection"}')) >= 3, 20000, 'connection retries');
  const written = await writer.done;
  t.assert.equal(tally.records, 0);

  // phase 3: back
  rx.setMode('ok');
  await rx.resume();
  const w = new Map([['d', written]]);
  await waitFor(() => tally.missing(w) === 0, 40000, 'every line').catch(() => undefined);
  const { lost, duplicated, firstLost } = tally.result(w);
  const inflightMax = await metric('sextant_node_collector_inflight_bytes_max');
  const paused = await metric('sextant_node_collector_read_paused_total');
  const retries503 = await metric('sextant_node_collector_export_retries_total', '{reason="status_503"}');
  console.log(
    `receiver down: written=${written} received=${tally.records} lost=${lost} duplicated=${duplicated} inflight_bytes_max=${inflightMax} ` +
      `(bound ${maxInflightBytes}) read_paused=${paused} retries_503=${retries503}`,
  );
  t.assert.equal(lost, 0, `lost lines, e.g. ${firstLost.join(', ')}`);
  t.assert.equal(tally.corrupted, 0);
  t.assert.equal(inflightMax >= maxInflightBytes, true, 'the bound was reached');
  // a read is only started below the bound; the two reads that may be under way (their records encoded a little
  // larger than the raw lines) and one joined record may overshoot it
  t.assert.equal(inflightMax <= maxInflightBytes + 3 * readBufferBytes + maxRecordBytes, true, `in-flight bytes ${inflightMax} stayed bounded`);
  t.assert.equal(retries503 >= 1, true);
  await waitFor(() => collector.inflightBytes() === 0, 5000, 'in-flight bytes to drain');
});
