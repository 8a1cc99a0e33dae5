// journald across SIGKILL: the collector (src/main.ts, journald section on) runs as a child process and is killed
// several times while systemd-journal-remote appends to a live journal file; each restart resumes from
// journald.json. No entry may be lost; each restart starts exactly at the position journald.json held at the kill
// (so duplicates are only what was in flight or acked and not yet written there; printed),
// and a clean SIGTERM stop followed by a restart sends nothing again.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { liveJournal } from './fixtures/journal/tools.ts';
import type { ExportEntry } from './fixtures/journal/tools.ts';
import { startLogsSink } from './helpers/sink.ts';
import { tempDir, waitFor } from './helpers/util.ts';

const MAIN = fileURLToPath(new URL('../src/main.ts', import.meta.url));
const MAX_RECORDS = 50;
const MAX_INFLIGHT = 2;

function startCollector(configPath: string): { child: ChildProcess; exited: Promise<void> } {
  const child = spawn(process.execPath, [MAIN, configPath], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, SEXTANT_LOG_LEVEL: 'warn', NODE_NAME: 'node-j' } });
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  return { child, exited };
}

void test('journald: SIGKILL during appends loses no entry; a clean restart resends nothing', { timeout: 120_000 }, async (t: TestContext) => {
  const root = await tempDir(t, 'journald-crash-');
  const ckpt = await tempDir(t, 'journald-crash-cp-');
  const pods = await tempDir(t, 'journald-crash-pods-');
  await mkdir(join(root, 'm'));
  const counts = new Map<number, number>();
  // per run of the collector: the lowest SEQ it sent
  let run = 0;
  const lowest = new Map<number, number>();
  const endpoint = await startLogsSink(t, (req) => {
    for (const rl of req.resourceLogs) {
      for (const sl of rl.scopeLogs) {
        for (const r of sl.logRecords) {
          const seq = Number(r.attributes.find((a) => a.key === 'journald.SEQ')?.value?.value.value);
          counts.set(seq, (counts.get(seq) ?? 0) + 1);
          lowest.set(run, Math.min(lowest.get(run) ?? Infinity, seq));
        }
      }
    }
  });
  const configPath = join(ckpt, '..', `${ckpt.split('/').pop() ?? 'x'}-journald.yaml`);
  await writeFile(
    configPath,
    [
      `log_root: ${pods}`,
      `checkpoint_dir: ${ckpt}`,
      `endpoints: ["${endpoint}"]`,
      'server: false',
      'checkpoint_interval_ms: 20',
      'retry: { initial_ms: 20, max_ms: 300 }',
      `journald: { dirs: ["${root}"], poll_interval_ms: 50, batch: { max_records: ${MAX_RECORDS}, max_age_ms: 20 }, max_inflight_batches: ${MAX_INFLIGHT} }`,
    ].join('\n'),
  );
  t.after(async () => {
    const { rm } = await import('node:fs/promises');
    await rm(configPath, { force: true });
  });

  const live = liveJournal(join(root, 'm', 'system.journal'));
  t.after(() => live.end());
  let next = 0;
  const write = (n: number): void => {
    const es: ExportEntry[] = [];
    for (let i = 0; i < n; i++, next++) es.push({ realtime: 1_700_000_000_000_000n + BigInt(next), monotonic: BigInt(next), bootId: '55'.repeat(16), fields: [['MESSAGE', `entry ${next}`], ['SEQ', String(next)]] });
    live.write(es);
  };
  const kills = 4;
  const persisted: number[] = [];
  const persistedSeqnum = async (): Promise<number> => {
    try {
      const j = JSON.parse(await readFile(join(ckpt, 'journald.json'), 'utf8')) as { files: { seqnum: string }[] };
      return Math.max(0, ...j.files.map((f) => Number(f.seqnum)));
    } catch {
      return 0;
    }
  };
  for (let k = 0; k < kills; k++) {
    run = k;
    const c = startCollector(configPath);
    const target = counts.size + 200;
    for (let i = 0; i < 8; i++) write(50);
    await waitFor(() => counts.size >= Math.min(target, next), 30_000, `entries after start ${k}`);
    c.child.kill('SIGKILL');
    await c.exited;
    persisted.push(await persistedSeqnum());
    write(100); // written while the collector is down
  }
  run = kills;
  const last = startCollector(configPath);
  await waitFor(() => counts.size >= next, 30_000, 'every entry after the last restart');
  last.child.kill('SIGTERM');
  await last.exited;
  const before = [...counts.values()].reduce((a, b) => a + b, 0);
  // a clean stop persisted everything: another start sends nothing
  run = kills + 1;
  const again = startCollector(configPath);
  await new Promise((r) => setTimeout(r, 1500));
  again.child.kill('SIGTERM');
  await again.exited;
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const duplicates = total - counts.size;
  process.stdout.write(`# journald crash: ${next} entries, ${kills} kills, ${duplicates} duplicates\n`);
  for (let i = 0; i < next; i++) t.assert.ok(counts.has(i), `entry ${i} arrived`);
  t.assert.equal(counts.size, next);
  t.assert.equal(total, before, 'nothing resent after a clean stop');
  // each restart resumes exactly at the position journald.json held at the kill (seqnum s = SEQ s-1 delivered):
  // what comes again is only what was in flight or acked and not yet written there
  for (let k = 0; k < kills; k++) {
    const p = persisted[k] ?? 0;
    t.assert.equal(lowest.get(k + 1) ?? p, p, `run ${k + 1} starts at the checkpoint of the kill before it (seqnum ${p})`);
  }
  t.assert.ok(persisted.some((p) => p > 0), 'positions were persisted between kills');
});
