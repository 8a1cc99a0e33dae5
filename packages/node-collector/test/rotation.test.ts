// Rotation stress: sequence-numbered CRI lines written at a high rate while the files are rotated the way kubelet
// does (rename, new file, late writes into the renamed one, keep 5, gzip the older ones and delete the plain
// file), plus a copytruncate phase and a phase that deletes each rotated file at once. Every line must arrive.
// LESSONS.md "Losing data": "Rotation under load", "copytruncate".
import { test } from 'node:test';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { pino } from 'pino';
import { createNodeCollector } from '../src/index.ts';
import { runWriter, Tally } from './helpers/lines.ts';
import type { WriterOptions } from './helpers/lines.ts';
import { startReceiver } from './helpers/receiver.ts';
import { metricValue, tempDir, testConfig, waitFor } from './helpers/util.ts';

void test('rotation stress: rename (kubelet), copytruncate and delete-before-read lose no line', { timeout: 120000 }, async (t) => {
  const root = await tempDir(t, 'nc-rot-root-');
  const ckpt = await tempDir(t, 'nc-rot-ckpt-');
  const ids = ['a', 'b'];
  const tally = new Tally(ids, 250000);
  const rx = await startReceiver(tally.onBatch);
  t.after(() => rx.close());
  const logger = process.env['NC_DEBUG'] ? pino({ level: 'debug' }, pino.destination(process.env['NC_DEBUG'])) : undefined;
  const collector = createNodeCollector(testConfig(root, ckpt, [rx.endpoint]), logger ? { logger } : {});
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
      // a rename every 1 MiB, as in LESSONS.md's measurement (kubelet's default is 10 MiB): with the gzip at the
      // next rotation, a file lives about 2 s on disk at this rate
      linesPerSecond: 9000,
      rotateBytes: 1024 * 1024,
      keep: 5,
      lateLines: 20,
      phases: [
        { lines: 45000, rotation: 'rename' },
        { lines: 25000, rotation: 'copytruncate' },
        { lines: 15000, rotation: 'rename-delete' },
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
  // rotated and deleted files are closed once read (no descriptor leak); only the two live files stay open
  await waitFor(() => collector.files().filter((f) => f.open).length === 2 && !collector.files().some((f) => f.gone), 15000, 'rotated files to be closed').catch(() => undefined);
  t.assert.deepEqual(
    collector.files().filter((f) => f.open).map((f) => f.path.slice(f.path.lastIndexOf('/') + 1)),
    ['0.log', '0.log'],
  );
  t.assert.equal(collector.files().some((f) => f.gone), false, 'deleted files are forgotten');
});
