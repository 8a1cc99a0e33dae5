// Truncated and corrupted journal files (made from real ones written by systemd-journal-remote) end in counted,
// typed errors: the reader never throws, never hangs, and every entry it does return is one that was written.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { JOURNAL_ERROR_CODES, openJournalDirectory } from '../src/index.ts';
import type { JournalEntry, JournalStats } from '../src/index.ts';
import { writeJournal } from './fixtures/journal/tools.ts';
import type { ExportEntry } from './fixtures/journal/tools.ts';
import { tempDir } from './helpers/util.ts';

const BOOT = '44'.repeat(16);

function entries(n: number): ExportEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    realtime: 1_700_000_000_000_000n + BigInt(i),
    monotonic: 1000n + BigInt(i),
    bootId: BOOT,
    fields: [
      ['MESSAGE', i % 4 === 0 ? `${'long '.repeat(200)}${i}` : `entry ${i}\nline two`],
      ['SEQ', String(i)],
      ['BIN', Buffer.from([i & 0xff, 0, 0xff, 0x0a])],
      ['_SYSTEMD_UNIT', `u${i % 3}.service`],
    ] as [string, string | Buffer][],
  }));
}

/** Reads everything with a hard bound on rounds; returns entries and stats. */
async function readCorrupt(dir: string, follow = false): Promise<{ got: JournalEntry[]; stats: JournalStats }> {
  const d = await openJournalDirectory({ dirs: [dir], follow, pollIntervalMs: 5, rescanIntervalMs: 50, onlineRetries: 2 });
  const got: JournalEntry[] = [];
  let idle = 0;
  for (let round = 0; round < 10_000 && idle < (follow ? 6 : 1); round++) {
    const r = await d.read(500);
    got.push(...r);
    if (r.length === 0) {
      idle++;
      if (follow) await d.wait(20);
    } else idle = 0;
  }
  const stats = d.stats();
  await d.close();
  return { got, stats };
}

function errorCount(s: JournalStats): number {
  return [...Object.values(s.fileErrors), ...Object.values(s.skippedEntries)].reduce((a, b) => a + (b ?? 0), 0);
}

function assertTyped(t: TestContext, s: JournalStats): void {
  for (const k of [...Object.keys(s.fileErrors), ...Object.keys(s.skippedEntries)]) {
    t.assert.ok(k === 'io' || (JOURNAL_ERROR_CODES as string[]).includes(k), `typed error code ${k}`);
  }
}

function prng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

async function fixtures(t: TestContext): Promise<{ work: string; originals: { name: string; bytes: Buffer; used: number }[]; bySeq: Map<string, ExportEntry> }> {
  const base = await tempDir(t, 'journald-fuzz-');
  const written = entries(40);
  const originals: { name: string; bytes: Buffer; used: number }[] = [];
  for (const compact of [true, false]) {
    const p = join(base, `${compact ? 'compact' : 'regular'}.journal`);
    writeJournal(p, written, { compact });
    const bytes = await readFile(p);
    // the end of the last object: header tail_object_offset + that object's size
    const tail = Number(bytes.readBigUInt64LE(136));
    const used = tail + Number(bytes.readBigUInt64LE(tail + 8));
    originals.push({ name: `${compact ? 'compact' : 'regular'}.journal`, bytes: bytes.subarray(0, Math.max(used, 4096) + 4096), used });
  }
  const work = join(base, 'work');
  await mkdir(work);
  return { work, originals, bySeq: new Map(written.map((e) => [(e.fields[1]?.[1] as string), e])) };
}

function sameAsWritten(t: TestContext, e: JournalEntry, bySeq: Map<string, ExportEntry>): void {
  const w = bySeq.get(e.fields.get('SEQ')?.toString() ?? '');
  t.assert.ok(w !== undefined, 'a returned entry is one that was written');
  for (const [k, v] of w.fields) t.assert.deepStrictEqual(e.fields.get(k), typeof v === 'string' ? Buffer.from(v) : v, `field ${k}`);
  t.assert.equal(e.realtime, w.realtime);
}

void test('truncated journal files: a prefix of intact entries, then a counted typed error', { timeout: 120_000 }, async (t: TestContext) => {
  const { work, originals, bySeq } = await fixtures(t);
  let cuts = 0;
  for (const o of originals) {
    const points = new Set<number>([0, 7, 8, 100, 207, 208, 263, 264, 272]);
    for (let i = 1; i <= 40; i++) points.add(Math.floor((o.used * i) / 40));
    for (const p of [...points].sort((a, b) => a - b)) {
      await rm(work, { recursive: true, force: true });
      await mkdir(work);
      await writeFile(join(work, o.name), o.bytes.subarray(0, p));
      const { got, stats } = await readCorrupt(work);
      assertTyped(t, stats);
      for (const e of got) sameAsWritten(t, e, bySeq);
      if (p < o.used) {
        t.assert.ok(got.length < 40, `${o.name} cut at ${p} of ${o.used} cannot hold every entry`);
        t.assert.ok(errorCount(stats) > 0, `${o.name} cut at ${p}: the loss is counted`);
      }
      cuts++;
    }
    // untouched (but for the unused tail) it reads everything, with no error
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    await writeFile(join(work, o.name), o.bytes);
    const whole = await readCorrupt(work);
    t.assert.equal(whole.got.length, 40);
    t.assert.equal(errorCount(whole.stats), 0);
  }
  t.assert.ok(cuts > 80);
});

void test('targeted corruption of the header, entry arrays and objects is counted by code', async (t: TestContext) => {
  const { work, originals } = await fixtures(t);
  const o = originals[0] as { name: string; bytes: Buffer; used: number };
  const run = async (mutate: (b: Buffer) => void, follow = false): Promise<{ got: JournalEntry[]; stats: JournalStats }> => {
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    const b = Buffer.from(o.bytes);
    mutate(b);
    await writeFile(join(work, o.name), b);
    return readCorrupt(work, follow);
  };
  let r = await run((b) => b.write('NOTAJRNL', 0, 'latin1'));
  t.assert.equal(r.stats.fileErrors.SEXTANT_COLLECTOR_JOURNAL_NOT_JOURNAL, 1);
  r = await run((b) => b.writeUInt32LE(b.readUInt32LE(12) | 0x100, 12));
  t.assert.equal(r.stats.fileErrors.SEXTANT_COLLECTOR_JOURNAL_UNSUPPORTED, 1, 'an unknown incompatible flag refuses the file');
  r = await run((b) => b.writeBigUInt64LE(3n, 176));
  t.assert.equal(r.got.length, 0);
  t.assert.equal(r.stats.fileErrors.SEXTANT_COLLECTOR_JOURNAL_CORRUPT, 1, 'entry_array_offset unaligned');
  r = await run((b) => b.writeBigUInt64LE(1n << 40n, 152));
  t.assert.equal(r.got.length, 40, 'n_entries inflated: the linked entries are still read');
  t.assert.equal(r.stats.fileErrors.SEXTANT_COLLECTOR_JOURNAL_CORRUPT, 1);
  // the first entry object's type byte: that entry is skipped, the rest read
  const firstEntry = (b: Buffer): number => {
    const arr = Number(b.readBigUInt64LE(176));
    return b.readUInt32LE(arr + 24);
  };
  r = await run((b) => b.writeUInt8(7, firstEntry(b)));
  t.assert.equal(r.got.length, 39);
  t.assert.equal(r.stats.skippedEntries.SEXTANT_COLLECTOR_JOURNAL_CORRUPT, 1);
  // a DATA object's compression flag set to LZ4: the field is skipped and counted, the entry kept
  r = await run((b) => {
    const e = firstEntry(b);
    const data = b.readUInt32LE(e + 64);
    b.writeUInt8(2, data + 1);
  });
  t.assert.equal(r.got.length, 40);
  t.assert.equal(r.stats.skippedFields.compression_lz4, 1);
  t.assert.equal(r.got[0]?.skippedFields, 1);
  // the same on a file marked ONLINE, followed: retried a few times (a write in progress?), then skipped
  r = await run((b) => {
    b.writeUInt8(1, 16);
    b.writeUInt8(7, firstEntry(b));
  }, true);
  t.assert.equal(r.got.length, 39);
  t.assert.equal(r.stats.skippedEntries.SEXTANT_COLLECTOR_JOURNAL_CORRUPT, 1);
});

void test('random byte corruption never throws or hangs, and every error is typed', { timeout: 120_000 }, async (t: TestContext) => {
  const { work, originals } = await fixtures(t);
  const rnd = prng(20261124);
  let withErrors = 0;
  for (let i = 0; i < 300; i++) {
    const o = originals[i % originals.length] as { name: string; bytes: Buffer; used: number };
    const b = Buffer.from(o.bytes);
    const flips = 1 + Math.floor(rnd() * 16);
    for (let f = 0; f < flips; f++) {
      // half the flips in the header, where offsets and counts live; the rest anywhere in use
      const at = rnd() < 0.3 ? Math.floor(rnd() * 272) : Math.floor(rnd() * o.used);
      b[at] = Math.floor(rnd() * 256);
    }
    if (rnd() < 0.2) b.writeUInt8(1, 16); // ONLINE: exercises the retry path too
    await rm(work, { recursive: true, force: true });
    await mkdir(work);
    await writeFile(join(work, o.name), b);
    const { got, stats } = await readCorrupt(work, i % 10 === 0);
    assertTyped(t, stats);
    t.assert.ok(got.length <= 40, 'never more entries than written');
    for (const e of got) t.assert.equal(typeof e.cursor, 'string');
    if (errorCount(stats) > 0 || Object.keys(stats.skippedFields).length > 0) withErrors++;
  }
  t.assert.ok(withErrors > 50, `corruption is noticed (${withErrors} of 300 runs counted errors)`);
});

void test('a copy of a journal file (same file_id) is read once', async (t: TestContext) => {
  const { work, originals } = await fixtures(t);
  const o = originals[1] as { name: string; bytes: Buffer; used: number };
  await writeFile(join(work, o.name), o.bytes);
  await copyFile(join(work, o.name), join(work, `copy-${o.name}`));
  const { got } = await readCorrupt(work);
  t.assert.equal(got.length, 40);
});
