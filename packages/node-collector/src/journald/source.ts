// The journald source: reads the journal directories (directory.ts), filters by systemd unit, encodes OTLP logs
// batches with @sextant/otlp's direct encoder, hands each batch to `send` (the collector's exporter), and moves
// the durable per-file positions only past batches that were acknowledged, in order (ARCHITECTURE.md "Delivery
// contract"). After a restart it resumes from those positions: nothing acknowledged is sent again, nothing read
// and unacknowledged is lost (at most the batches in flight at a crash are sent twice).
import type { LogsEncoder } from '@sextant/otlp';
import { createJournalCheckpoint } from './checkpoint.ts';
import type { JournalCheckpoint, SavedPosition } from './checkpoint.ts';
import { openJournalDirectory } from './directory.ts';
import type { FilePosition, JournalDirectory, JournalFileStatus, JournalStats } from './directory.ts';
import { JournalError } from './errors.ts';
import type { JournalEntry } from './file.ts';
import { mapEntry } from './mapping.ts';

type SendResult = { kind: 'ok' } | { kind: 'failure'; status?: number; error: string } | { kind: 'aborted' };

interface JournaldSourceOptions {
  /** Journal directories. Default `['/var/log/journal', '/run/log/journal']`. */
  dirs?: string[];
  /** Where `journald.json` (the positions) is kept; a writable hostPath in Kubernetes. Required. */
  checkpointDir: string;
  /**
   * Unit filter on `_SYSTEMD_UNIT`: names or globs (`*`, `?`). With `include`, only entries of a matching unit
   * are shipped (entries without a unit, e.g. the kernel's, are then left out); `exclude` drops matching ones.
   */
  units?: { include?: string[]; exclude?: string[] };
  /** Files present at the first start, without a position: `beginning` (default) or `end`. */
  startAt?: 'beginning' | 'end';
  pollIntervalMs?: number;
  rescanIntervalMs?: number;
  maxFieldBytes?: number;
  batch?: {
    /** Default 1000. */ maxRecords?: number;
    /** Encoded bytes; default 1 MiB. */ maxBytes?: number;
    /** Default 200. */ maxAgeMs?: number;
  };
  /** Batches sent and not yet acknowledged; reading pauses at this many. Default 4. */
  maxInflightBatches?: number;
  /** Resource attributes of every batch (e.g. `k8s.node.name`). */
  resource?: Record<string, string>;
  /** Delivers one OTLP ExportLogsServiceRequest; resolves when acknowledged (ok), permanently refused, or aborted by shutdown. */
  send(body: Uint8Array): Promise<SendResult>;
  /** Delay that coalesces checkpoint writes after acks. Default 200. */
  checkpointIntervalMs?: number;
  /** How long shutdown waits for batches in flight. Default 10000. */
  shutdownTimeoutMs?: number;
}

interface JournaldSourceStats extends JournalStats {
  /** Records put into batches. */
  records: number;
  /** Entries left out by the unit filter. */
  filtered: number;
  batchesAcked: number;
  /** Batches permanently refused by the receiver (their entries count as done, like the file source). */
  batchesRejected: number;
  checkpointWrites: number;
  checkpointErrors: number;
  /** Unexpected errors of a read round (not bad files, which are in fileErrors), each retried. */
  readErrors: number;
}

interface JournaldSource {
  /** Loads the positions, opens the directories and starts shipping; returns once reading has begun. */
  start(): Promise<void>;
  /** Stops reading, sends the open batch, waits (bounded) for acks, writes the positions, closes the files. */
  shutdown(): Promise<void>;
  stats(): JournaldSourceStats;
  files(): JournalFileStatus[];
  /** Cursor of the last entry whose batch was acknowledged (journald syntax). */
  lastCursor(): string | undefined;
}

interface Pending {
  positions: Map<string, SavedPosition>;
  done: boolean;
}

function globToRegExp(g: string): RegExp {
  const body = g.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`);
}

function compileUnits(u: JournaldSourceOptions['units']): (unit: string | undefined) => boolean {
  const inc = (u?.include ?? []).map(globToRegExp);
  const exc = (u?.exclude ?? []).map(globToRegExp);
  return (unit) => {
    if (inc.length > 0 && (unit === undefined || !inc.some((r) => r.test(unit)))) return false;
    return unit === undefined || !exc.some((r) => r.test(unit));
  };
}

const SCOPE = '@sextant/node-collector/journald';

class JournaldSourceImpl implements JournaldSource {
  private readonly o: JournaldSourceOptions;
  private readonly unitOk: (unit: string | undefined) => boolean;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly maxInflight: number;
  private readonly checkpoint: JournalCheckpoint;
  private dir: JournalDirectory | undefined;
  private enc: LogsEncoder | undefined;
  private resourceAttrs: { key: string; value: string }[] = [];
  private batchPositions = new Map<string, SavedPosition>();
  private batchStarted = 0;
  private readonly pending: Pending[] = [];
  private inflight = 0;
  private readonly localWaiters = new Set<() => void>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private started = false;
  private cpTimer: NodeJS.Timeout | undefined;
  private readonly counts = { records: 0, filtered: 0, batchesAcked: 0, batchesRejected: 0, checkpointWrites: 0, checkpointErrors: 0, readErrors: 0 };

  constructor(o: JournaldSourceOptions) {
    this.o = o;
    this.unitOk = compileUnits(o.units);
    this.maxRecords = o.batch?.maxRecords ?? 1000;
    this.maxBytes = o.batch?.maxBytes ?? 1024 * 1024;
    this.maxAgeMs = o.batch?.maxAgeMs ?? 200;
    this.maxInflight = o.maxInflightBatches ?? 4;
    for (const [k, v] of [['maxRecords', this.maxRecords], ['maxBytes', this.maxBytes], ['maxInflightBatches', this.maxInflight]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_CONFIG', `${k} is ${v}; use an integer ≥ 1`);
    }
    this.checkpoint = createJournalCheckpoint(o.checkpointDir);
  }

  async start(): Promise<void> {
    if (this.started) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_CONFIG', 'start() called twice');
    this.started = true;
    const saved = await this.checkpoint.load();
    const positions = new Map<string, FilePosition>([...saved].map(([id, p]) => [id, { index: p.index, seqnum: p.seqnum }]));
    const dirOpts: Parameters<typeof openJournalDirectory>[0] = { positions };
    if (this.o.dirs !== undefined) dirOpts.dirs = this.o.dirs;
    if (this.o.startAt !== undefined) dirOpts.startAt = this.o.startAt;
    if (this.o.pollIntervalMs !== undefined) dirOpts.pollIntervalMs = this.o.pollIntervalMs;
    if (this.o.rescanIntervalMs !== undefined) dirOpts.rescanIntervalMs = this.o.rescanIntervalMs;
    if (this.o.maxFieldBytes !== undefined) dirOpts.maxFieldBytes = this.o.maxFieldBytes;
    this.dir = await openJournalDirectory(dirOpts);
    const { createLogsEncoder } = await import('@sextant/otlp');
    this.enc = createLogsEncoder({ initialSize: 64 * 1024 });
    this.resourceAttrs = Object.entries(this.o.resource ?? {}).map(([key, value]) => ({ key, value }));
    this.loop = this.run().catch(() => undefined);
  }

  private wakeLocal(): void {
    for (const w of [...this.localWaiters]) w();
  }

  private waitFor(timeoutMs: number | undefined): Promise<void> {
    const dir = this.dir;
    if (dir === undefined || this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        this.localWaiters.delete(done);
        resolve();
      };
      this.localWaiters.add(done);
      dir.wait(timeoutMs).then(done, done);
    });
  }

  private async run(): Promise<void> {
    const dir = this.dir;
    const enc = this.enc;
    if (dir === undefined || enc === undefined) return;
    while (!this.stopping) {
      if (this.inflight >= this.maxInflight) {
        await this.waitFor(undefined);
        continue;
      }
      const want = this.maxRecords - enc.recordCount;
      let entries: JournalEntry[];
      try {
        entries = await dir.read(Math.min(want, 256));
      } catch {
        // read() counts bad files itself; anything else (e.g. EMFILE) is retried after the next change or poll
        this.counts.readErrors++;
        await this.waitFor(1000);
        continue;
      }
      for (const e of entries) {
        this.add(e);
        if (enc.recordCount >= this.maxRecords || enc.byteLength >= this.maxBytes) this.cut();
      }
      if (entries.length > 0) continue;
      // nothing new: ship what waits once it is old enough, else sleep until the journal changes
      if (this.batchPositions.size > 0) {
        const age = Date.now() - this.batchStarted;
        if (age >= this.maxAgeMs) {
          this.cut();
          continue;
        }
        await this.waitFor(this.maxAgeMs - age);
      } else await this.waitFor(undefined);
    }
  }

  private add(e: JournalEntry): void {
    const enc = this.enc;
    if (enc === undefined) return;
    if (this.batchPositions.size === 0) this.batchStarted = Date.now();
    this.batchPositions.set(e.fileId, { fileId: e.fileId, index: e.index + 1, seqnum: e.seqnum, cursor: e.cursor, path: '' });
    const unit = e.fields.get('_SYSTEMD_UNIT');
    if (!this.unitOk(unit === undefined ? undefined : unit.toString('utf8'))) {
      this.counts.filtered++;
      return;
    }
    if (enc.recordCount === 0) {
      enc.beginResource(this.resourceAttrs);
      enc.beginScope(SCOPE, '0.1.0');
    }
    enc.addRecord(mapEntry(e));
    this.counts.records++;
  }

  /** Closes the open batch: sends it, or (all entries filtered) queues its positions as done. */
  private cut(): void {
    const enc = this.enc;
    if (enc === undefined || this.batchPositions.size === 0) return;
    const p: Pending = { positions: this.batchPositions, done: false };
    this.batchPositions = new Map();
    this.pending.push(p);
    if (enc.recordCount === 0) {
      p.done = true;
      this.advance();
      return;
    }
    const body = enc.finish();
    this.inflight++;
    this.o
      .send(body)
      .then(
        (r) => {
          if (r.kind === 'ok') this.counts.batchesAcked++;
          else if (r.kind === 'failure') this.counts.batchesRejected++;
          // aborted (shutdown): not done, so its entries are read again after the restart
          if (r.kind !== 'aborted') p.done = true;
        },
        () => undefined,
      )
      .finally(() => {
        this.inflight--;
        this.advance();
        this.wakeLocal();
      });
  }

  /** Moves the positions past every leading finished batch, in order. */
  private advance(): void {
    let moved = false;
    while (this.pending[0]?.done === true) {
      const p = this.pending.shift() as Pending;
      for (const pos of p.positions.values()) {
        const f = this.dir?.files().find((x) => x.fileId === pos.fileId);
        this.checkpoint.set({ ...pos, path: f?.path ?? pos.path });
      }
      moved = true;
    }
    if (moved && this.cpTimer === undefined && !this.stopping) {
      this.cpTimer = setTimeout(() => {
        this.cpTimer = undefined;
        this.persist().catch(() => undefined);
      }, this.o.checkpointIntervalMs ?? 200);
    }
  }

  private async persist(): Promise<void> {
    const live = this.dir?.liveFileIds();
    // keep positions of files still on disk, and of files only just read (a rename may hide one from a scan)
    if (live !== undefined && live.size > 0) {
      for (const f of this.dir?.files() ?? []) live.add(f.fileId);
      this.checkpoint.retain(live);
    }
    try {
      await this.checkpoint.persist();
      this.counts.checkpointWrites++;
    } catch (e) {
      this.counts.checkpointErrors++;
      throw e;
    }
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.wakeLocal();
    await this.loop;
    this.cut();
    const deadline = Date.now() + (this.o.shutdownTimeoutMs ?? 10000);
    while (this.inflight > 0 && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(t);
          this.localWaiters.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.max(1, deadline - Date.now()));
        this.localWaiters.add(done);
      });
    }
    if (this.cpTimer !== undefined) clearTimeout(this.cpTimer);
    this.cpTimer = undefined;
    await this.persist().catch(() => undefined);
    await this.dir?.close();
  }

  stats(): JournaldSourceStats {
    const base: JournalStats = this.dir?.stats() ?? { entries: 0, skippedEntries: {}, skippedFields: {}, fileErrors: {}, filesOpened: 0 };
    return { ...base, ...this.counts };
  }

  files(): JournalFileStatus[] {
    return this.dir?.files() ?? [];
  }

  lastCursor(): string | undefined {
    return this.checkpoint.lastCursor();
  }
}

function createJournaldSource(options: JournaldSourceOptions): JournaldSource {
  return new JournaldSourceImpl(options);
}

export { createJournaldSource };
export type { JournaldSource, JournaldSourceOptions, JournaldSourceStats, SendResult };
