// All journal files under the journal directories, read as one stream and followed as journald appends.
// Files are `*.journal`, archived `*@*.journal` and journald's set-aside `*.journal~`, directly in a directory or
// in its machine-id subdirectories. A file is identified by its header file_id, which survives journald's
// archiving rename (system.journal → system@….journal); its position is the index in its entry array chain plus
// the seqnum there, so a restart resumes each file exactly (no global ordering assumption is needed for that).
// Entries of several files are merged in journald's order: by seqnum within one seqnum_id, else by monotonic
// time within one boot, else by wall-clock time.
import { readdir, stat } from 'node:fs/promises';
import { watch } from 'node:fs';
import type { BigIntStats, Dirent, FSWatcher } from 'node:fs';
import { join } from 'node:path';
import { JournalError } from './errors.ts';
import type { JournalErrorCode } from './errors.ts';
import { openJournalFile } from './file.ts';
import type { JournalEntry, JournalFile, NextResult, SkipReason } from './file.ts';

/** Where to resume one file: entries below `index` are done, and the entry at index-1 has `seqnum`. */
interface FilePosition {
  index: number;
  seqnum: bigint;
}

interface JournalDirectoryOptions {
  /** Default `['/var/log/journal', '/run/log/journal']`. Missing directories are watched for (checked on rescans). */
  dirs?: string[];
  /** Per file_id, where to resume (from a checkpoint). */
  positions?: ReadonlyMap<string, FilePosition>;
  /** Files present at open that have no position: read from their first entry or skip what they hold. Default `beginning`. */
  startAt?: 'beginning' | 'end';
  /** fs.watch the directories and poll headers; false reads what is there (tests, one-shot). Default true. */
  follow?: boolean;
  /** Headers of open files are re-read this often besides watch events. Default 1000. */
  pollIntervalMs?: number;
  /** Directories are listed again this often besides watch events. Default 10000. */
  rescanIntervalMs?: number;
  /** An entry or field object larger than this is skipped (counted). Default 16 MiB. */
  maxFieldBytes?: number;
  /** A check failing at the same spot of an ONLINE file is retried on this many refreshes before it is skipped. Default 5. */
  onlineRetries?: number;
}

interface JournalStats {
  entries: number;
  /** Entries that could not be read and were skipped, by error code. */
  skippedEntries: Partial<Record<JournalErrorCode, number>>;
  /** Fields left out of entries, by reason. */
  skippedFields: Partial<Record<SkipReason, number>>;
  /** Files that failed (unreadable header, broken entry array chain), by error code. */
  fileErrors: Partial<Record<JournalErrorCode | 'io', number>>;
  filesOpened: number;
}

interface JournalFileStatus {
  path: string;
  fileId: string;
  state: string;
  nEntries: number;
  consumed: number;
  open: boolean;
  error: string | undefined;
}

interface JournalDirectory {
  /** Up to `max` entries available now, in journal order. Empty when nothing new is readable. Never throws for bad files. */
  read(max: number): Promise<JournalEntry[]>;
  /** Resolves when new entries may be readable (watch event, poll, rescan), on close(), or after `timeoutMs`. */
  wait(timeoutMs?: number): Promise<void>;
  stats(): JournalStats;
  files(): JournalFileStatus[];
  /** file_ids currently on disk (after the last scan); a checkpoint may forget the others. */
  liveFileIds(): Set<string>;
  close(): Promise<void>;
}

interface Tracked {
  fileId: string;
  path: string;
  devIno: string;
  reader: JournalFile | undefined;
  lookahead: JournalEntry[];
  /** Retries at the current position of an ONLINE file. */
  stuck: number;
  stuckAt: number;
  failed: string | undefined;
  /** nEntries/arena when it failed: a failed file is tried again once its header changes. */
  failedSig: string;
  /** Key of this file in byInode (its device:inode when last opened). */
  byInodeKey: string;
  /** size:mtime:ctime when closed or when it failed to open; a change makes the next scan look again. */
  sig: string;
  /** Not on disk at the last scan: closed once read to its end. */
  gone: boolean;
  /** `consumed` when the descriptor was released. */
  closedAt: number;
  dirty: boolean;
}

const LOOKAHEAD = 64;
const MAX_BAD_RUN = 256;

function isJournalName(n: string): boolean {
  return n.endsWith('.journal') || n.endsWith('.journal~');
}

function compareEntries(a: JournalEntry, b: JournalEntry): number {
  if (a.seqnumId === b.seqnumId && a.seqnum !== b.seqnum) return a.seqnum < b.seqnum ? -1 : 1;
  if (a.bootId === b.bootId && a.monotonic !== b.monotonic) return a.monotonic < b.monotonic ? -1 : 1;
  if (a.realtime !== b.realtime) return a.realtime < b.realtime ? -1 : 1;
  return a.xorHash < b.xorHash ? -1 : a.xorHash > b.xorHash ? 1 : 0;
}

class JournalDirectoryImpl implements JournalDirectory {
  private readonly dirs: string[];
  private readonly positions: ReadonlyMap<string, FilePosition>;
  private readonly startAt: 'beginning' | 'end';
  private readonly follow: boolean;
  private readonly pollIntervalMs: number;
  private readonly rescanIntervalMs: number;
  private readonly maxFieldBytes: number;
  private readonly onlineRetries: number;
  private readonly byId = new Map<string, Tracked>();
  private readonly byInode = new Map<string, Tracked>();
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly waiters = new Set<() => void>();
  private timers: NodeJS.Timeout[] = [];
  private closed = false;
  private initial = true;
  private rescanNeeded = true;
  private lastScanIds = new Set<string>();
  private readonly st: JournalStats = { entries: 0, skippedEntries: {}, skippedFields: {}, fileErrors: {}, filesOpened: 0 };
  private readonly hooks = {
    onSkippedField: (r: SkipReason): void => {
      this.st.skippedFields[r] = (this.st.skippedFields[r] ?? 0) + 1;
    },
  };

  constructor(o: JournalDirectoryOptions) {
    this.dirs = o.dirs ?? ['/var/log/journal', '/run/log/journal'];
    this.positions = o.positions ?? new Map();
    this.startAt = o.startAt ?? 'beginning';
    this.follow = o.follow ?? true;
    this.pollIntervalMs = o.pollIntervalMs ?? 1000;
    this.rescanIntervalMs = o.rescanIntervalMs ?? 10000;
    this.maxFieldBytes = o.maxFieldBytes ?? 16 * 1024 * 1024;
    this.onlineRetries = o.onlineRetries ?? 5;
  }

  async init(): Promise<void> {
    if (this.follow) for (const d of this.dirs) this.watchDir(d);
    await this.scan();
    this.initial = false;
    if (this.follow) {
      this.timers.push(
        setInterval(() => {
          for (const t of this.byId.values()) t.dirty = true;
          this.wake();
        }, this.pollIntervalMs),
        setInterval(() => {
          this.rescanNeeded = true;
          this.wake();
        }, this.rescanIntervalMs),
      );
      for (const t of this.timers) t.unref();
    }
  }

  private watchDir(d: string): void {
    if (this.watchers.has(d)) return;
    try {
      const w = watch(d, { persistent: false }, (_type, name) => {
        // a new or renamed file (or machine-id directory) needs a listing; a write needs a header re-read
        if (name === null || !name.endsWith('.journal') || name.includes('@')) this.rescanNeeded = true;
        else {
          const t = [...this.byId.values()].find((x) => x.path === join(d, name));
          if (t === undefined) this.rescanNeeded = true;
          else t.dirty = true;
        }
        this.wake();
      });
      w.on('error', () => {
        w.close();
        this.watchers.delete(d);
        this.rescanNeeded = true;
      });
      this.watchers.set(d, w);
    } catch {
      // not there yet (or not a directory): the periodic rescan tries again
    }
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  wait(timeoutMs?: number): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.waiters.delete(done);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(done, timeoutMs);
      this.waiters.add(done);
    });
  }

  private countFileError(code: JournalErrorCode | 'io'): void {
    this.st.fileErrors[code] = (this.st.fileErrors[code] ?? 0) + 1;
  }

  private async listDir(d: string, depth: number, out: string[]): Promise<void> {
    let names: Dirent[];
    try {
      names = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    if (this.follow && depth > 0) this.watchDir(d);
    for (const n of names) {
      if (n.isDirectory() && depth === 0) await this.listDir(join(d, n.name), 1, out);
      else if (n.isFile() && isJournalName(n.name)) out.push(join(d, n.name));
    }
  }

  private async scan(): Promise<void> {
    this.rescanNeeded = false;
    const paths: string[] = [];
    for (const d of this.dirs) {
      if (this.follow) this.watchDir(d);
      await this.listDir(d, 0, paths);
    }
    const ids = new Set<string>();
    for (const p of paths) {
      let s: BigIntStats;
      try {
        s = await stat(p, { bigint: true });
      } catch {
        continue;
      }
      const devIno = `${s.dev}:${s.ino}`;
      const sig = `${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      const known = this.byInode.get(devIno);
      if (known !== undefined) {
        // an open file, or a closed (read, archived) or unreadable one unchanged since: same inode, maybe a new name
        if (known.reader !== undefined || known.sig === sig) {
          known.path = p;
          ids.add(known.fileId);
          continue;
        }
        // changed since it was closed or failed to open (a header being written, or the inode reused): look again
        this.byInode.delete(devIno);
      }
      let r: JournalFile;
      try {
        r = await openJournalFile(p, this.maxFieldBytes);
      } catch (e) {
        // remembered with its stat signature: counted again only if the file changes and still fails
        const code = e instanceof JournalError ? e.code : 'io';
        this.countFileError(code);
        const t: Tracked = { fileId: `invalid:${devIno}`, path: p, devIno, byInodeKey: devIno, sig, reader: undefined, lookahead: [], stuck: 0, stuckAt: 0, failed: String(e), failedSig: '', gone: false, dirty: false, closedAt: 0 };
        this.byInode.set(devIno, t);
        ids.add(t.fileId);
        continue;
      }
      const id = r.header.fileId;
      ids.add(id);
      const dup = this.byId.get(id);
      if (dup !== undefined && dup.reader !== undefined) {
        // a copy of a file we read (same file_id): read once
        this.byInode.set(devIno, dup);
        await r.close();
        continue;
      }
      if (dup !== undefined) {
        // a file we read and closed, seen again (changed, or under another inode): continue where it was left
        if (dup.byInodeKey !== devIno) this.byInode.delete(dup.byInodeKey);
        dup.reader = r;
        dup.path = p;
        dup.devIno = devIno;
        dup.byInodeKey = devIno;
        dup.dirty = true;
        dup.gone = false;
        r.seekIndex(dup.closedAt);
        this.byInode.set(devIno, dup);
        continue;
      }
      this.st.filesOpened++;
      const t: Tracked = { fileId: id, path: p, devIno, byInodeKey: devIno, sig, reader: r, lookahead: [], stuck: 0, stuckAt: -1, failed: undefined, failedSig: '', gone: false, dirty: true, closedAt: 0 };
      this.byId.set(id, t);
      this.byInode.set(devIno, t);
      await this.position(t, r);
    }
    this.lastScanIds = ids;
    // files no longer on disk: closed ones are forgotten; open ones are read to their end, then closed (fill)
    for (const [devIno, t] of this.byInode) {
      if (!ids.has(t.fileId) && t.reader === undefined) this.byInode.delete(devIno);
    }
    for (const [id, t] of this.byId) {
      if (ids.has(id)) continue;
      if (t.reader === undefined) this.byId.delete(id);
      else t.gone = true;
    }
  }

  /** Sets where a newly seen file starts: its saved position, its end (startAt end, at open only), or 0. */
  private async position(t: Tracked, r: JournalFile): Promise<void> {
    const saved = this.positions.get(t.fileId);
    if (saved === undefined) {
      if (this.initial && this.startAt === 'end') r.seekIndex(r.header.nEntries);
      return;
    }
    try {
      if (saved.index > 0 && saved.index <= r.header.nEntries) {
        r.seekIndex(saved.index - 1);
        if ((await r.peekSeqnum()) === saved.seqnum) {
          r.seekIndex(saved.index);
          return;
        }
      }
      // the index does not match (should not happen for an append-only file): find the seqnum from the start
      r.seekIndex(0);
      for (;;) {
        const s = await r.peekSeqnum();
        if (s === undefined || s > saved.seqnum) return;
        r.skip();
      }
    } catch {
      r.seekIndex(saved.index); // structure errors surface (and are counted) when reading
    }
  }

  /** Reads the next entries of one file into its lookahead. */
  private async fill(t: Tracked): Promise<void> {
    const r = t.reader;
    if (r === undefined || t.lookahead.length >= LOOKAHEAD) return;
    const refreshed = t.dirty;
    if (t.dirty) {
      t.dirty = false;
      try {
        await r.refresh();
      } catch (e) {
        this.fail(t, e);
        return;
      }
      if (t.failed !== undefined) {
        const sig = `${r.header.nEntries}:${r.header.arenaSize}:${r.header.state}`;
        if (sig === t.failedSig) return;
        t.failed = undefined; // the file changed since it failed: try again
      }
    }
    if (t.failed !== undefined) return;
    // a spot that did not check out is retried only after the header was read again
    if (t.stuck > 0 && !refreshed) return;
    let badRun = 0;
    while (t.lookahead.length < LOOKAHEAD && r.available > 0) {
      let res: NextResult;
      try {
        res = await r.next(this.hooks);
      } catch (err) {
        // the entry array chain is broken here: nothing after is reachable (an ONLINE file may still be mid-write)
        if (r.header.state === 'online' && this.retryLater(t, r)) return;
        this.fail(t, err);
        return;
      }
      if (res.kind === 'entry') {
        t.stuck = 0;
        badRun = 0;
        t.lookahead.push(res.entry);
        continue;
      }
      if (r.header.state === 'online' && this.retryLater(t, r)) return;
      if (res.kind === 'none') {
        // a closed file whose header counts more entries than its arrays link
        this.fail(t, new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${r.path}: n_entries ${r.header.nEntries} but entry ${r.consumed} is not linked`));
        return;
      }
      this.st.skippedEntries[res.error.code] = (this.st.skippedEntries[res.error.code] ?? 0) + 1;
      t.stuck = 0;
      r.skip();
      // a run of bad entries means the array itself is garbage (or n_entries is): stop rather than walk it all
      if (++badRun >= MAX_BAD_RUN) {
        this.fail(t, new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${r.path}: ${badRun} unreadable entries in a row before entry ${r.consumed}`));
        return;
      }
      continue;
    }
    // a fully read archived (or deleted) file will not change again: release its descriptor; its inode and
    // position stay known, with a stat signature that tells a later change
    if (r.available === 0 && t.lookahead.length === 0 && (r.header.state === 'archived' || t.gone)) {
      t.reader = undefined;
      t.closedAt = r.consumed;
      try {
        const s = await stat(t.path, { bigint: true });
        t.sig = `${s.size}:${s.mtimeNs}:${s.ctimeNs}`;
      } catch {
        t.sig = '';
      }
      await r.close();
    }
  }

  /** An ONLINE file may be mid-write at this spot: true while it is worth retrying on a later refresh. */
  private retryLater(t: Tracked, r: JournalFile): boolean {
    if (!this.follow) return false;
    if (t.stuckAt !== r.consumed) {
      t.stuckAt = r.consumed;
      t.stuck = 0;
    }
    return ++t.stuck <= this.onlineRetries;
  }

  private fail(t: Tracked, e: unknown): void {
    const code = e instanceof JournalError ? e.code : 'io';
    this.countFileError(code);
    t.failed = String(e);
    const h = t.reader?.header;
    t.failedSig = h === undefined ? '' : `${h.nEntries}:${h.arenaSize}:${h.state}`;
  }

  async read(max: number): Promise<JournalEntry[]> {
    if (this.closed) return [];
    if (this.rescanNeeded) await this.scan();
    const active = [...this.byId.values()].filter((t) => t.reader !== undefined);
    for (const t of active) await this.fill(t);
    const out: JournalEntry[] = [];
    while (out.length < max) {
      let best: Tracked | undefined;
      for (const t of active) {
        const h = t.lookahead[0];
        if (h === undefined) continue;
        const bh = best?.lookahead[0];
        if (bh === undefined || compareEntries(h, bh) < 0) best = t;
      }
      if (best === undefined) break;
      out.push(best.lookahead.shift() as JournalEntry);
      if (best.lookahead.length === 0) await this.fill(best);
    }
    this.st.entries += out.length;
    return out;
  }

  stats(): JournalStats {
    return structuredClone(this.st);
  }

  files(): JournalFileStatus[] {
    return [...this.byId.values()].map((t) => ({
      path: t.path,
      fileId: t.fileId,
      state: t.reader?.header.state ?? 'closed',
      nEntries: t.reader?.header.nEntries ?? 0,
      consumed: t.reader?.consumed ?? 0,
      open: t.reader !== undefined,
      error: t.failed,
    }));
  }

  liveFileIds(): Set<string> {
    return new Set(this.lastScanIds);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    for (const w of this.watchers.values()) w.close();
    this.watchers.clear();
    this.wake();
    for (const t of this.byId.values()) {
      const r = t.reader;
      t.reader = undefined;
      if (r !== undefined) await r.close().catch(() => undefined);
    }
  }
}

/** Opens the journal directories, lists their files and positions each one. Bad files are counted, never thrown. */
async function openJournalDirectory(options: JournalDirectoryOptions = {}): Promise<JournalDirectory> {
  const d = new JournalDirectoryImpl(options);
  await d.init();
  return d;
}

export { openJournalDirectory, compareEntries };
export type { JournalDirectory, JournalDirectoryOptions, JournalStats, JournalFileStatus, FilePosition };
