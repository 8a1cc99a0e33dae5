// journald source against real journal files written by systemd's own systemd-journal-remote (issue 10,
// "journald" acceptance): every field read back intact (binary, multi-line, compressed and not, several boots),
// follow mode on a file journald-remote keeps ONLINE, archiving renames and new files, the cursor resumed by a
// new source instance with no loss and no duplicates, unit filtering and PRIORITY → severity.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { zstdDecodeAll } from './helpers/zstd.ts';
import { decodeLogsRequest } from '@sextant/otlp';
import type { LogRecord } from '@sextant/otlp';
import { createJournaldSource, createNodeCollector, mapPriority, openJournalDirectory } from '../src/index.ts';
import type { JournalEntry, JournalFileStatus } from '../src/index.ts';
import { resolveConfig } from '../src/config.ts';
import { createExporter } from '../src/exporter.ts';
import { liveJournal, writeJournal } from './fixtures/journal/tools.ts';
import type { ExportEntry } from './fixtures/journal/tools.ts';
import { tempDir, testConfig, waitFor } from './helpers/util.ts';

const MACHINE = '0123456789abcdef0123456789abcdef';
const BOOTS = ['11'.repeat(16), '22'.repeat(16), '33'.repeat(16)];
const BIG = 'x'.repeat(3000); // above journald's compression threshold (512 bytes)
const NOT_UTF8 = Buffer.from([0x66, 0x6f, 0xff, 0xfe, 0x00, 0x0a, 0x80]);

function entry(i: number, extra: [string, string | Buffer][] = []): ExportEntry {
  const boot = BOOTS[Math.floor(i / 100) % BOOTS.length] as string;
  const fields: [string, string | Buffer][] = [
    ['MESSAGE', i % 10 === 0 ? `multi-line ${i}\n  second line\n\ttrailing space ` : i % 10 === 1 ? `${BIG}${i}` : i % 10 === 2 ? Buffer.concat([NOT_UTF8, Buffer.from(String(i))]) : `message ${i}`],
    ['SEQ', String(i)],
    ['PRIORITY', String(i % 8)],
    ['_SYSTEMD_UNIT', i % 3 === 0 ? 'a.service' : i % 3 === 1 ? 'b.service' : 'kube-c.service'],
    ['_PID', String(1000 + i)],
    ['_HOSTNAME', 'node-a'],
    ['SYSLOG_IDENTIFIER', 'tester'],
    ['BLOB', Buffer.from([0, 1, 2, 0xff, 0x0a, i & 0xff])],
    ['TAG', 'one'],
    ['TAG', 'two'],
    ...extra,
  ];
  return { realtime: 1_700_000_000_000_000n + BigInt(i) * 1000n, monotonic: 5_000_000n + BigInt(i % 100) * 1000n, bootId: boot, fields };
}

function fieldsOf(e: ExportEntry): Map<string, Buffer[]> {
  const m = new Map<string, Buffer[]>();
  for (const [k, v] of [...e.fields, ['_BOOT_ID', e.bootId] as [string, string]]) {
    const b = typeof v === 'string' ? Buffer.from(v) : v;
    m.set(k, [...(m.get(k) ?? []), b]);
  }
  return m;
}

function readFields(e: JournalEntry): Map<string, Buffer[]> {
  const m = new Map<string, Buffer[]>();
  for (const [k, v] of e.fields) m.set(k, [v, ...(e.repeated?.get(k) ?? [])]);
  return m;
}

async function readAll(dirs: string[]): Promise<JournalEntry[]> {
  const d = await openJournalDirectory({ dirs, follow: false });
  const out: JournalEntry[] = [];
  for (;;) {
    const got = await d.read(1000);
    if (got.length === 0) break;
    out.push(...got);
  }
  await d.close();
  return out;
}

void test('real journal files from systemd-journal-remote are read with every field intact, compressed and not, in order', async (t: TestContext) => {
  const root = await tempDir(t, 'journald-read-');
  await mkdir(join(root, MACHINE));
  const written = Array.from({ length: 300 }, (_, i) => entry(i));
  // two files: even entries compressed (zstd), odd ones not; the reader merges them back into one ordered stream
  const zfile = join(root, MACHINE, 'system.journal');
  const plain = join(root, MACHINE, 'user-1000.journal');
  writeJournal(zfile, written.filter((_, i) => i % 2 === 0));
  // and in the original (non-compact, 64-bit items, Jenkins hash) format
  writeJournal(plain, written.filter((_, i) => i % 2 === 1), { compress: false, compact: false });
  t.assert.equal((await readFile(zfile)).readUInt32LE(12) & 0x18, 0x18, 'compact + zstd');
  t.assert.equal((await readFile(plain)).readUInt32LE(12) & 0x14, 0, 'neither compact nor keyed hash');
  // the compressed file really holds compressed DATA objects, the other does not
  t.assert.equal((await readFile(zfile)).includes(BIG), false);
  t.assert.equal((await readFile(plain)).includes(BIG), true);

  const got = await readAll([root, join(root, 'missing')]);
  t.assert.equal(got.length, written.length);
  for (const [i, e] of got.entries()) {
    const w = written[i] as ExportEntry;
    t.assert.equal(e.fields.get('SEQ')?.toString(), String(i), 'merged in time order');
    t.assert.deepStrictEqual(readFields(e), fieldsOf(w), `entry ${i} fields`);
    t.assert.equal(e.realtime, w.realtime);
    t.assert.equal(e.monotonic, w.monotonic);
    t.assert.equal(e.bootId, w.bootId);
    t.assert.equal(e.skippedFields, 0);
    t.assert.match(e.cursor, new RegExp(`^s=[0-9a-f]{32};i=${e.seqnum.toString(16)};b=${w.bootId};m=${w.monotonic.toString(16)};t=${w.realtime.toString(16)};x=[0-9a-f]+$`));
  }
  t.assert.deepStrictEqual(new Set(got.map((e) => e.bootId)), new Set(BOOTS));
});

interface Received {
  records: LogRecord[];
  resources: Record<string, unknown>[];
  mode: 'ok' | 'unavailable';
  close(): Promise<void>;
  endpoint: string;
}

async function receiver(t: { after(fn: () => Promise<void>): void }): Promise<Received> {
  const r: Received = { records: [], resources: [], mode: 'ok', close: () => Promise.resolve(), endpoint: '' };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (r.mode === 'unavailable') {
        res.writeHead(503).end();
        return;
      }
      let body = Buffer.concat(chunks);
      if (req.headers['content-encoding'] === 'zstd') body = zstdDecodeAll(body);
      for (const rl of decodeLogsRequest(body).resourceLogs) {
        r.resources.push(Object.fromEntries((rl.resource?.attributes ?? []).map((kv) => [kv.key, kv.value?.value.value])));
        for (const sl of rl.scopeLogs) r.records.push(...sl.logRecords);
      }
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  r.endpoint = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  r.close = () =>
    new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  t.after(() => r.close());
  return r;
}

function attr(rec: LogRecord, key: string): unknown {
  return rec.attributes.find((a) => a.key === key)?.value?.value.value;
}

function seqs(records: LogRecord[]): number[] {
  return records.map((r) => Number(attr(r, 'journald.SEQ')));
}

void test('follow an ONLINE file, archiving and new files; a new source resumes from the checkpoint with no loss and no duplicates', async (t: TestContext) => {
  const root = await tempDir(t, 'journald-follow-');
  const cp = await tempDir(t, 'journald-cp-');
  const mdir = join(root, MACHINE);
  await mkdir(mdir);
  const recv = await receiver(t);
  const cfg = resolveConfig({ endpoints: [recv.endpoint], retry: { initialMs: 20, maxMs: 200 }, checkpointDir: cp });
  // each instance has its own exporter, stopped after the source as the collector does (it aborts retries)
  const makeSource = (): { start(): Promise<void>; shutdown(): Promise<void>; files: () => JournalFileStatus[]; lastCursor: () => string | undefined } => {
    const exporter = createExporter(cfg, { onAttempt: () => undefined, onRetry: () => undefined });
    const s = createJournaldSource({
      dirs: [root],
      checkpointDir: cp,
      pollIntervalMs: 100,
      rescanIntervalMs: 300,
      batch: { maxRecords: 50, maxAgeMs: 30 },
      checkpointIntervalMs: 10,
      resource: { 'k8s.node.name': 'node-a' },
      send: (body) => exporter.export(body),
      shutdownTimeoutMs: 1000,
    });
    return {
      async start() {
        exporter.start();
        await s.start();
      },
      async shutdown() {
        await s.shutdown();
        await exporter.shutdown();
      },
      files: () => s.files(),
      lastCursor: () => s.lastCursor(),
    };
  };

  let next = 0;
  const batch = (n: number): ExportEntry[] => Array.from({ length: n }, () => entry(next++));
  // journald-remote keeps system.journal ONLINE and appends in place as entries arrive on its stdin
  let live = liveJournal(join(mdir, 'system.journal'));
  t.after(() => live.end());
  live.write(batch(120));
  await waitFor(async () => (await readAll([root])).length === 120, 10000, 'the first entries on disk');

  const a = makeSource();
  await a.start();
  await waitFor(() => recv.records.length >= 120, 10000, 'the first entries shipped');
  live.write(batch(80)); // appended while following
  await waitFor(() => recv.records.length >= 200, 10000, 'appended entries shipped');
  // batches go out concurrently (max_inflight_batches), so arrival order between batches may vary
  t.assert.deepStrictEqual(seqs(recv.records).sort((x, y) => x - y), Array.from({ length: 200 }, (_, i) => i));
  t.assert.equal(recv.resources[0]?.['k8s.node.name'], 'node-a');

  // the receiver refuses for a while: nothing it refused may count as delivered
  recv.mode = 'unavailable';
  live.write(batch(30));
  await waitFor(() => a.files().some((f) => f.consumed >= 230), 10000, 'unacked entries read');
  await a.shutdown();
  recv.mode = 'ok';
  const cpText = await readFile(join(cp, 'journald.json'), 'utf8');
  t.assert.match(cpText, /"seqnum":"200"/, 'the checkpoint stops at the last acknowledged entry');

  // while no source runs: more entries, then journald-style archiving (rename to name@….journal) and a new file
  live.write(batch(40));
  await live.end();
  await rename(join(mdir, 'system.journal'), join(mdir, `system@${'ab'.repeat(16)}-0000000000000001-0005f3a1b2c3d4e5.journal`));
  live = liveJournal(join(mdir, 'system.journal'));
  live.write(batch(25));
  writeJournal(join(mdir, 'user-1000.journal'), batch(15), { compress: false });

  const b = makeSource();
  await b.start();
  await waitFor(() => recv.records.length >= next, 15000, 'everything after the restart');
  // and while b follows: the new live file grows, is archived by rename and replaced, another file appears
  live.write(batch(10));
  await waitFor(() => recv.records.length >= next, 15000, 'appended entries after the restart');
  live.write(batch(10));
  await live.end();
  await rename(join(mdir, 'system.journal'), join(mdir, `system@${'ab'.repeat(16)}-0000000000000002-0005f3a1b2c3d4e6.journal`));
  live = liveJournal(join(mdir, 'system.journal'));
  live.write(batch(10));
  writeJournal(join(mdir, 'user-1001.journal'), batch(5));
  await waitFor(() => recv.records.length >= next, 15000, 'entries appended after the restart');
  await new Promise((r) => setTimeout(r, 300));
  await b.shutdown();

  const got = seqs(recv.records);
  t.assert.equal(got.length, next, 'no duplicates');
  t.assert.deepStrictEqual([...new Set(got)].sort((x, y) => x - y), Array.from({ length: next }, (_, i) => i), 'no loss');

  // a third instance finds nothing left to send
  const c = makeSource();
  await c.start();
  await new Promise((r) => setTimeout(r, 400));
  await c.shutdown();
  t.assert.equal(recv.records.length, next, 'nothing resent after a clean restart');
  t.assert.match(c.lastCursor() ?? '', /^s=[0-9a-f]{32};i=[0-9a-f]+;b=/);
});

void test('unit include/exclude filter and PRIORITY → OTel severity (data model appendix B, syslog column)', async (t: TestContext) => {
  const root = await tempDir(t, 'journald-filter-');
  const cp = await tempDir(t, 'journald-filter-cp-');
  await mkdir(join(root, MACHINE));
  const entries = Array.from({ length: 48 }, (_, i) => entry(i));
  entries.push({ realtime: 1_700_000_001_000_000n, monotonic: 1n, bootId: BOOTS[0] as string, fields: [['MESSAGE', 'kernel line'], ['SEQ', '48'], ['PRIORITY', '9']] });
  writeJournal(join(root, MACHINE, 'system.journal'), entries);
  const run = async (units: { include?: string[]; exclude?: string[] }): Promise<LogRecord[]> => {
    const got: LogRecord[] = [];
    await import('node:fs/promises').then((fs) => fs.rm(join(cp, 'journald.json'), { force: true }));
    const s = createJournaldSource({
      dirs: [root],
      checkpointDir: cp,
      units,
      batch: { maxAgeMs: 10 },
      send: (body) => {
        for (const rl of decodeLogsRequest(body).resourceLogs) for (const sl of rl.scopeLogs) got.push(...sl.logRecords);
        return Promise.resolve({ kind: 'ok' });
      },
    });
    await s.start();
    await waitFor(() => s.stats().entries === 49, 5000, 'all entries read');
    await s.shutdown();
    t.assert.equal(s.stats().filtered + got.length, 49);
    return got;
  };
  const all = await run({});
  t.assert.equal(all.length, 49);
  const inc = await run({ include: ['a.service', 'kube-*'] });
  t.assert.deepStrictEqual(new Set(inc.map((r) => attr(r, 'systemd.unit'))), new Set(['a.service', 'kube-c.service']));
  t.assert.equal(inc.length, 32);
  const exc = await run({ exclude: ['kube-?.service'] });
  t.assert.equal(exc.length, 33, 'b, a and the entry without a unit');

  const expected = [
    [21, 'emerg'],
    [19, 'alert'],
    [18, 'crit'],
    [17, 'err'],
    [13, 'warning'],
    [10, 'notice'],
    [9, 'info'],
    [5, 'debug'],
  ];
  for (const r of all) {
    const seq = Number(attr(r, 'journald.SEQ'));
    if (seq === 48) {
      t.assert.equal(r.severityNumber, 0, 'PRIORITY 9 is no syslog severity');
      t.assert.equal(attr(r, 'journald.PRIORITY'), '9', 'and is kept as an attribute');
      t.assert.equal(Buffer.from(r.body?.value.value as Uint8Array | string).toString(), 'kernel line');
      continue;
    }
    t.assert.deepStrictEqual([r.severityNumber, r.severityText], expected[seq % 8]);
    t.assert.equal(attr(r, 'journald.PRIORITY'), undefined);
    t.assert.equal(attr(r, 'process.pid'), BigInt(1000 + seq));
    t.assert.equal(attr(r, 'host.name'), 'node-a');
    t.assert.equal(attr(r, 'syslog.identifier'), 'tester');
    t.assert.deepStrictEqual(Buffer.from(attr(r, 'journald.BLOB') as Uint8Array), Buffer.from([0, 1, 2, 0xff, 0x0a, seq & 0xff]));
    t.assert.deepStrictEqual(
      (attr(r, 'journald.TAG') as { values: { value: { value: unknown } }[] }).values.map((v) => v.value.value),
      ['one', 'two'],
    );
    t.assert.equal(r.timeUnixNano, (1_700_000_000_000_000n + BigInt(seq) * 1000n) * 1000n);
    const body = r.body?.value;
    if (seq % 10 === 2) {
      t.assert.equal(body?.case, 'bytesValue', 'a non-UTF-8 MESSAGE is a bytes body');
      t.assert.deepStrictEqual(Buffer.from(body?.value as Uint8Array), Buffer.concat([NOT_UTF8, Buffer.from(String(seq))]));
    } else {
      t.assert.equal(body?.case, 'stringValue');
      if (seq % 10 === 0) t.assert.equal(body?.value, `multi-line ${seq}\n  second line\n\ttrailing space `);
    }
  }
  t.assert.equal(mapPriority(Buffer.from('3'))?.number, 17);
});

void test('the collector ships the journal when its journald section is on, through its exporter, with journald.json beside its checkpoints', async (t: TestContext) => {
  const root = await tempDir(t, 'journald-collector-');
  const logs = await tempDir(t, 'journald-collector-pods-');
  const cp = await tempDir(t, 'journald-collector-cp-');
  await mkdir(join(root, MACHINE));
  writeJournal(join(root, MACHINE, 'system.journal'), Array.from({ length: 30 }, (_, i) => entry(i)));
  const recv = await receiver(t);
  const cfg = testConfig(logs, cp, [recv.endpoint], { journald: { dirs: [root], units: { exclude: ['b.service'] }, pollIntervalMs: 50 } });
  const c = createNodeCollector(cfg);
  await c.start();
  await waitFor(() => recv.records.length >= 20, 10000, 'journal records');
  await c.shutdown();
  t.assert.deepStrictEqual(seqs(recv.records).sort((x, y) => x - y), Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 3 !== 1));
  t.assert.equal(recv.resources[0]?.['k8s.node.name'], 'node-a');
  t.assert.match(await readFile(join(cp, 'journald.json'), 'utf8'), /"seqnum":"30"/);
  t.assert.match(await c.metrics.registry.metrics(), /sextant_node_collector_journald_filtered_total 10/);
});

void test('archived files are released once read; a file seen before its header is written, a deleted file and a reused name are handled', async (t: TestContext) => {
  const root = await tempDir(t, 'journald-lifecycle-');
  const scratch = await tempDir(t, 'journald-lifecycle-src-');
  const mdir = join(root, MACHINE);
  await mkdir(mdir);
  let next = 0;
  const batch = (n: number): ExportEntry[] => Array.from({ length: n }, () => entry(next++));
  // an archived file (state byte 2, as journald leaves it after rotation)
  const archived = join(mdir, `system@${'cd'.repeat(16)}-0000000000000001-0005f3a1b2c3d4e5.journal`);
  writeJournal(join(scratch, 'a.journal'), batch(20));
  const a = await readFile(join(scratch, 'a.journal'));
  a.writeUInt8(2, 16);
  await writeFile(archived, a);
  const d = await openJournalDirectory({ dirs: [root], pollIntervalMs: 20, rescanIntervalMs: 50 });
  t.after(() => d.close());
  const got: number[] = [];
  const drain = async (until: number): Promise<void> => {
    await waitFor(async () => {
      for (const e of await d.read(1000)) got.push(Number(e.fields.get('SEQ')?.toString()));
      return got.length >= until;
    }, 10000, `${until} entries`);
  };
  await drain(20);
  await waitFor(async () => (await d.read(1000)).length === 0 && d.files().some((f) => f.path === archived && !f.open), 5000, 'the archived file closed');

  // a new file caught before its header exists, then written in place
  const fresh = join(mdir, 'system.journal');
  await writeFile(fresh, Buffer.alloc(0));
  await waitFor(async () => (await d.read(1000)).length === 0 && (d.stats().fileErrors.SEXTANT_COLLECTOR_JOURNAL_NOT_JOURNAL ?? 0) >= 1, 5000, 'the empty file seen');
  writeJournal(join(scratch, 'b.journal'), batch(10));
  await writeFile(fresh, await readFile(join(scratch, 'b.journal')));
  await drain(30);

  // the archived file is deleted and a new one takes its name (and often its inode)
  await rm(archived);
  writeJournal(join(scratch, 'c.journal'), batch(5));
  await writeFile(archived, await readFile(join(scratch, 'c.journal')));
  await drain(35);
  await new Promise((r) => setTimeout(r, 200));
  for (const e of await d.read(1000)) got.push(Number(e.fields.get('SEQ')?.toString()));
  t.assert.deepStrictEqual(got, Array.from({ length: 35 }, (_, i) => i));
});
