// Rotation stress: sequence-numbered CRI lines written at a high rate while the files are rotated the way kubelet
// does (rename, new file, late writes into the renamed one, keep 5, gzip the older ones and delete the plain
// file), plus a copytruncate phase and a phase that deletes each rotated file at once. Every line must arrive.
// LESSONS.md "Losing data": "Rotation under load", "copytruncate".
import { test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { createNodeCollector } from '../src/index.ts';
import { runWriter, Tally } from './helpers/lines.ts';
import type { WriterOptions } from './helpers/lines.ts';
import { startReceiver } from './helpers/receiver.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

void test('rotation stress: rename (kubelet), copytruncate and delete-before-read lose no line', { timeout: 120000 }, async (t) => {
  const root = await tempDir(t, 'nc-rot-root-');
  const ckpt = await tempDir(t, 'nc-rot-ckpt-');
  const ids = ['a', 'b'];
  const tally = new Tally(ids, 200000);
  const rx = await startReceiver(tally.onBatch);
  t.after(() => rx.close());
  const collector = createNodeCollector(testConfig(root, ckpt, [rx.endpoint]));
  await collector.start();
  t.after(() => collector.shutdown());

  const opts: WriterOptions[] = [];
  for (const id of ids) {
    // the pod directories appear while the collector runs: a new pod's first lines must not be lost
    const dir = join(root, `stress_writer-${id}_uid-${id}`, 'app');
    await mkdir(dir, { recursive: true });
    opts.push({
      dir,
      id,
      linesPerSecond: 9000,
      rotateBytes: 256 * 1024,
      keep: 5,
      lateLines: 20,
      phases: [
        { lines: 40000, rotation: 'rename' },
        { lines: 15000, rotation: 'copytruncate' },
        { lines: 10000, rotation: 'rename-delete' },
        { lines: 15000, rotation: 'rename' },
      ],
    });
  }
  const started = Date.now();
  const writers = opts.map((o) => runWriter(o));
  t.after(() => writers.forEach((w) => w.kill()));
  const counts = await Promise.all(writers.map((w) => w.done));
  const written = new Map(ids.map((id, i) => [id, counts[i] ?? 0]));
  const writeSecs = (Date.now() - started) / 1000;
  await waitFor(() => tally.missing(written) === 0, 30000, 'every line').catch(() => undefined);
  const { lost, duplicated, firstLost } = tally.result(written);
  const total = counts.reduce((a, b) => a + b, 0);
  const metrics = await (await fetch(`http://127.0.0.1:${collector.statusAddress()?.port}/metrics`)).text();
  const truncations = metricValue(metrics, 'sextant_node_collector_truncated_files_total') ?? 0;
  console.log(
    `rotation stress: written=${total} in ${writeSecs.toFixed(1)}s received=${tally.records} lost=${lost} duplicated=${duplicated} ` +
      `corrupted=${tally.corrupted} wrong_stream=${tally.wrongStream} copytruncates_seen=${truncations} ${lost > 0 ? `first lost: ${firstLost.join(',')}` : ''}`,
  );
  t.assert.equal(lost, 0, `lost lines, e.g. ${firstLost.join(', ')}`);
  t.assert.equal(tally.corrupted, 0, `corrupted bodies: ${tally.examples.join(' | ')}`);
  t.assert.equal(tally.wrongStream, 0);
  t.assert.equal(truncations >= 2, true, 'the copytruncate phase was detected');
});
