// Crash: the collector runs as a child process (src/main.ts) and is SIGKILLed every few seconds while writers
// write and rotate; it restarts from its checkpoints each time. No line may be lost; duplicates are limited to the
// batches in flight at each kill (printed). LESSONS.md: "Offsets must survive kill -9".
import { test } from 'node:test';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { runWriter, Tally } from './helpers/lines.ts';
import type { WriterOptions } from './helpers/lines.ts';
import { startReceiver } from './helpers/receiver.ts';
import { tempDir, waitFor } from './helpers/util.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));

function startCollector(configPath: string): { child: ChildProcess; exited: Promise<number | null>; ready: Promise<void> } {
  const child = spawn(process.execPath, [MAIN, configPath], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, SEXTANT_LOG_LEVEL: process.env['NC_DEBUG'] ? 'info' : 'warn', NODE_NAME: 'node-crash' },
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const ready = new Promise<void>((resolve) => {
    let out = '';
    child.stdout?.on('data', (d: Buffer) => {
      if (process.env['NC_DEBUG']) process.stdout.write(d);
      out += d.toString();
      if (out.includes('sextant-node-collector-ready')) resolve();
    });
    void exited.then(() => resolve());
  });
  return { child, exited, ready };
}

void test('crash: SIGKILL every few seconds during rotation stress loses no line', { timeout: 150000 }, async (t) => {
  const root = await tempDir(t, 'nc-crash-root-');
  const ckpt = await tempDir(t, 'nc-crash-ckpt-');
  const ids = ['k1', 'k2'];
  const tally = new Tally(ids, 250000);
  const rx = await startReceiver(tally.onBatch);
  t.after(() => rx.close());
  const configPath = join(ckpt, '..', `${ckpt.split('/').pop() ?? 'x'}-config.yaml`);
  await writeFile(
    configPath,
    [
      `log_root: ${root}`,
      `checkpoint_dir: ${ckpt}`,
      `endpoints: ["${rx.endpoint}"]`,
      'server: { port: 0, host: 127.0.0.1 }',
      'poll_interval_ms: 200',
      'rescan_interval_ms: 1000',
      'rotated_close_after_ms: 1000',
      'checkpoint_interval_ms: 20',
      'batch: { max_age_ms: 50 }',
      // duplicates after a kill are at most what was read and not yet acked, which this bounds
      'max_inflight_bytes: 4194304',
      'retry: { initial_ms: 20, max_ms: 300 }',
    ].join('\n'),
  );
  t.after(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(configPath, { force: true });
  });

  let current = startCollector(configPath);
  let kills = 0;
  let stop = false;
  t.after(() => {
    stop = true;
    current.child.kill('SIGKILL');
  });
  const killer = (async () => {
    while (!stop) {
      // killed a few seconds after each start completed (while starting, it would only test the start time)
      await current.ready;
      await new Promise((r) => setTimeout(r, 1500 + Math.random() * 1500));
      if (stop) break;
      current.child.kill('SIGKILL');
      await current.exited;
      kills++;
      current = startCollector(configPath);
    }
  })();

  const opts: WriterOptions[] = [];
  for (const id of ids) {
    const dir = join(root, `crash_writer-${id}_uid-${id}`, 'app');
    await mkdir(dir, { recursive: true });
    opts.push({
      dir,
      id,
      // a rotated file lives about two rotations (~2 × 3 MiB at this rate) before it is gzipped and deleted; a
      // restart (about 2 s on a loaded 2-core machine) must be shorter than that, as it must be under kubelet
      linesPerSecond: 6000,
      rotateBytes: 3 * 1024 * 1024,
      keep: 5,
      lateLines: 20,
      phases: [
        { lines: 60000, rotation: 'rename' },
        { lines: 15000, rotation: 'copytruncate' },
        { lines: 25000, rotation: 'rename' },
      ],
    });
  }
  const writers = opts.map((o) => runWriter(o));
  t.after(() => writers.forEach((w) => w.kill()));
  const counts = await Promise.all(writers.map((w) => w.done));
  // on a slow machine starts take longer: keep killing (while the backlog is read) until it happened 4 times
  await waitFor(() => kills >= 4, 60000, '4 kills');
  stop = true;
  await killer;
  const written = new Map(ids.map((id, i) => [id, counts[i] ?? 0]));
  await waitFor(() => tally.missing(written) === 0, 30000, 'every line').catch(() => undefined);
  const { lost, duplicated, firstLost } = tally.result(written);
  const total = counts.reduce((a, b) => a + b, 0);
  console.log(
    `crash: written=${total} kills=${kills} received=${tally.records} lost=${lost} duplicated=${duplicated} ` +
      `(${((duplicated / total) * 100).toFixed(2)}%) corrupted=${tally.corrupted} ${lost > 0 ? `first lost: ${firstLost.join(',')}` : ''}`,
  );
  // the last run is stopped gracefully: SIGTERM flushes, persists and exits 0
  current.child.kill('SIGTERM');
  t.assert.equal(await current.exited, 0);
  t.assert.equal(kills >= 4, true, `the collector was killed ${kills} times`);
  t.assert.equal(lost, 0, `lost lines, e.g. ${firstLost.join(', ')}`);
  // each kill can only resend what was read and not yet acked: at most max_inflight_bytes of encoded records
  // (a record here encodes to more than 50 bytes)
  t.assert.equal(duplicated <= kills * Math.ceil(4194304 / 50), true, `${duplicated} duplicates for ${kills} kills`);
  t.assert.equal(tally.corrupted, 0, `corrupted bodies: ${tally.examples.join(' | ')}`);
});
