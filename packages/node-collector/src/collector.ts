// The node collector: discovers pod log files (inotify through fs.watch, plus a periodic rescan that only repairs),
// tails them by device + inode, parses, batches one container file per OTLP ResourceLogs, ships, and moves
// durable checkpoints only past acknowledged batches. See ARCHITECTURE.md "Delivery contract" and LESSONS.md.
import { close, fstat, open, read, readdir, stat, watch } from 'node:fs';
import type { BigIntStats, FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
// Only the type comes from @sextant/pipeline: importing its runtime costs about 0.6 s of startup (measured), and
// every second of a collector restart is a second in which a rotated file can be deleted unread.
import type { Logger } from '@sextant/pipeline';
import { pino } from 'pino';
import { createCheckpointStore, checkpointKey } from './checkpoints.ts';
import type { CheckpointEntry, CheckpointStore } from './checkpoints.ts';
import { resolveConfig } from './config.ts';
import type { NodeCollectorConfig, ResolvedConfig } from './config.ts';
import { createBatchEncoder, encodeResourceHeader, loadEncoder } from './encoder.ts';
import type { BatchEncoder, ResourceHeader } from './encoder.ts';
import { collectorError } from './errors.ts';
import { createExporter } from './exporter.ts';
import type { Exporter, ExportResult } from './exporter.ts';
import { createCollectorMetrics } from './metrics.ts';
import type { MetricsScraper } from './telemetry/scraper.ts';
import type { JournaldSource } from './journald/source.ts';
import type { CollectorMetrics } from './metrics.ts';
import { FileParser } from './parser.ts';
import type { MultilineOptions, ParsedRecord } from './parser.ts';
import { compileSelector, createFilter, parseLogName, parsePodDir, selectorMatches } from './paths.ts';
import type { PodDir } from './paths.ts';
import { startStatusServer } from './server.ts';
import type { StatusServer } from './server.ts';
import { createAuditBatchEncoder, loadAuditEncoder } from './auditlog/encoder.ts';
import { registerAuditLogMetrics } from './auditlog/metrics.ts';
import type { AuditLogMetrics } from './auditlog/metrics.ts';
import { AuditLineParser, loadAuditMapping } from './auditlog/parser.ts';
import { auditPathSpec } from './auditlog/paths.ts';
import type { AuditPathSpec } from './auditlog/paths.ts';

const openP = promisify(open);
const closeP = promisify(close);
const readP = promisify(read);
const readdirP = promisify(readdir);
const statBig = (p: string): Promise<BigIntStats> =>
  new Promise((res, rej) => stat(p, { bigint: true }, (e, s) => (e ? rej(e) : res(s))));
const fstatBig = (fd: number): Promise<BigIntStats> =>
  new Promise((res, rej) => fstat(fd, { bigint: true }, (e, s) => (e ? rej(e) : res(s))));

const SCOPE_NAME = '@sextant/node-collector';
const SCOPE_VERSION = '0.1.0';
const COPY_WAIT_MS = 5000;

interface FileStatus {
  path: string;
  key: string;
  open: boolean;
  readOffset: number;
  committedOffset: number;
  rotated: boolean;
  gone: boolean;
}

/** The collector's public face. */
interface NodeCollector {
  /** Loads checkpoints, scans the tree once, starts watching, shipping and the status server. */
  start(): Promise<void>;
  /** Stops reading, flushes the open batches, waits (bounded) for their acks, persists checkpoints, closes everything. */
  shutdown(): Promise<void>;
  readonly metrics: CollectorMetrics;
  readonly config: ResolvedConfig;
  /** Address of the status server once started (port 0 picks a free port). */
  statusAddress(): { host: string; port: number } | undefined;
  /** Files known, for tests and debugging. */
  files(): FileStatus[];
  /** Bytes of records read and not yet acknowledged. */
  inflightBytes(): number;
}

interface CollectorOptions {
  logger?: Logger;
  /** How long shutdown waits for in-flight batches to be acknowledged. Default 10000. */
  shutdownTimeoutMs?: number;
}

interface PendingBatch {
  resume: number;
  skip: number;
  gen: number;
  acked: boolean;
  bytes: number;
  records: number;
}

interface OpenBatch {
  enc: BatchEncoder;
  resume: number;
  skip: number;
  gen: number;
  bytes: number;
  timer: NodeJS.Timeout;
}

/** What the collector needs of a line parser: the pod-log FileParser or the audit log's AuditLineParser. */
type LineParser = Pick<FileParser, 'push' | 'flush' | 'flushIdleGroups' | 'reset' | 'setResumeSkip' | 'skipMaskAt' | 'minPendingStart' | 'pendingBytes'>;

/** A watched directory of log files: a container's directory of pod logs, or an API-server audit log's directory. */
interface ContainerDir {
  path: string;
  pod: PodDir;
  container: string;
  /** Set for an audit log directory (issue 10): which names to read, where files start, the line cap. */
  audit?: { spec: AuditPathSpec; startAt: 'beginning' | 'end'; maxLineBytes: number } | undefined;
  watcher: FSWatcher | undefined;
  files: Map<string, TrackedFile>;
  multiline: MultilineOptions | undefined;
  scanning: boolean;
  scanAgain: boolean;
  /** Serialises opening files of this directory, so that a scan and the fast path never track one inode twice. */
  opening: Promise<unknown>;
}

interface PodDirState {
  path: string;
  pod: PodDir;
  watcher: FSWatcher | undefined;
  containers: Map<string, ContainerDir>;
  scanning: boolean;
  scanAgain: boolean;
}

interface TruncSnapshot {
  fp: Buffer;
  /** Acked offset at the truncation: a copy's checkpoint starts here, so a crash re-reads rather than loses. */
  committed: number;
  committedSkip: number;
  /** Read offset at the truncation: a copy's reading starts here (the bytes before are in batches already). */
  read: number;
  readSkip: number;
  atMs: number;
}

class TrackedFile {
  key: string;
  dev: string;
  ino: string;
  path: string;
  dir: ContainerDir;
  rotated = false;
  gone = false;
  fd: number | undefined;
  readOffset = 0;
  committedOffset = 0;
  committedSkip = 0;
  generation = 0;
  fp: Buffer = Buffer.alloc(0);
  parser: LineParser;
  header: ResourceHeader;
  /** A new batch encoder for this file's records (pod-log records or audit records). */
  newBatch: () => BatchEncoder;
  batch: OpenBatch | undefined;
  pending: PendingBatch[] = [];
  reading = false;
  again = false;
  lastGrowthMs = Date.now();
  deferredCopyOf: TrackedFile | undefined;
  deferredSince = 0;
  trunc: TruncSnapshot | undefined;
  constructor(key: string, dev: string, ino: string, path: string, dir: ContainerDir, parser: LineParser, header: ResourceHeader, newBatch: () => BatchEncoder) {
    this.key = key;
    this.dev = dev;
    this.ino = ino;
    this.path = path;
    this.dir = dir;
    this.parser = parser;
    this.header = header;
    this.newBatch = newBatch;
  }
}

class Collector implements NodeCollector {
  readonly config: ResolvedConfig;
  readonly metrics: CollectorMetrics;
  private readonly log: Logger;
  private readonly shutdownTimeoutMs: number;
  private readonly filter: (pod: PodDir, container?: string) => boolean;
  private readonly multilineRules: { sel: ReturnType<typeof compileSelector>; opts: MultilineOptions }[];
  private readonly store: CheckpointStore;
  private readonly exporter: Exporter;
  private metricsScraper: MetricsScraper | undefined;
  private journald: JournaldSource | undefined;
  private readonly auditDirs: ContainerDir[] = [];
  private readonly auditMetrics: AuditLogMetrics | undefined;
  private server: StatusServer | undefined;
  private saved = new Map<string, CheckpointEntry>();
  private readonly tracked = new Map<string, TrackedFile>();
  private readonly pods = new Map<string, PodDirState>();
  private rootWatcher: FSWatcher | undefined;
  private rootScanning = false;
  private rootScanAgain = false;
  private timers: NodeJS.Timeout[] = [];
  private started = false;
  private stopping = false;
  private ready = false;
  private inflight = 0;
  private inflightMax = 0;
  private readonly paused = new Set<TrackedFile>();
  private readonly sendQueue: { f: TrackedFile; b: PendingBatch; body: Uint8Array }[] = [];
  private activeSends = 0;
  private readonly sendsIdle = new Set<() => void>();
  private readonly buffers: Buffer[] = [];
  private readonly bufferWaiters: ((b: Buffer) => void)[] = [];
  private readonly busy = new Set<Promise<void>>();
  private encoderReady: Promise<void> | undefined;

  constructor(config: ResolvedConfig, opts: CollectorOptions) {
    this.config = config;
    this.log = opts.logger ?? pino({ level: 'silent' });
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 10000;
    this.metrics = createCollectorMetrics();
    this.filter = createFilter(config.include, config.exclude);
    this.multilineRules = config.multiline.map((m) => ({
      sel: compileSelector(m),
      opts: { firstLine: new RegExp(m.firstLine), flushAfterMs: m.flushAfterMs ?? 1000 },
    }));
    this.store = createCheckpointStore(config.checkpointDir, config.checkpointIntervalMs, (ok) => {
      if (ok) this.metrics.checkpointWrites.inc();
      else this.metrics.checkpointErrors.inc();
    });
    this.exporter = createExporter(config, {
      onAttempt: (r) => this.metrics.batchesSent.inc({ result: r }),
      onRetry: (reason) => this.metrics.exportRetries.inc({ reason }),
      log: this.log,
    });
    // two read buffers: one being filled while the other is parsed
    for (let i = 0; i < 2; i++) this.buffers.push(Buffer.allocUnsafe(config.readBufferBytes));
    if (config.auditLog !== false) {
      // each audit log path is tailed like a container directory holding one log file and its rotations
      this.auditMetrics = registerAuditLogMetrics(this.metrics.registry);
      for (const path of config.auditLog.paths) {
        const spec = auditPathSpec(path);
        this.auditDirs.push({
          path: spec.dir,
          pod: { namespace: '', pod: '', uid: '' },
          container: '',
          audit: { spec, startAt: config.auditLog.startAt, maxLineBytes: config.auditLog.maxLineBytes },
          watcher: undefined,
          files: new Map(),
          multiline: undefined,
          scanning: false,
          scanAgain: false,
          opening: Promise.resolve(),
        });
      }
    }
  }

  statusAddress(): { host: string; port: number } | undefined {
    return this.server?.address();
  }

  inflightBytes(): number {
    return this.inflight;
  }

  files(): FileStatus[] {
    return [...this.tracked.values()].map((f) => ({
      path: f.path,
      key: f.key,
      open: f.fd !== undefined,
      readOffset: f.readOffset,
      committedOffset: f.committedOffset,
      rotated: f.rotated,
      gone: f.gone,
    }));
  }

  async start(): Promise<void> {
    if (this.started) throw collectorError('SEXTANT_COLLECTOR_STATE', 'start() was already called');
    this.started = true;
    this.saved = await this.store.load();
    // files first: descriptors held early protect rotated files from deletion; encoder and server load after
    this.watchRoot();
    await this.scanRoot(true);
    await this.scanAuditDirs(true);
    this.log.debug({ files: this.tracked.size, uptimeMs: Math.round(process.uptime() * 1000) }, 'files opened');
    this.encoderReady = this.auditDirs.length === 0 ? loadEncoder() : Promise.all([loadEncoder(), loadAuditEncoder(), loadAuditMapping()]).then(() => undefined);
    await this.encoderReady;
    for (const f of this.tracked.values()) this.pump(f);
    if (this.config.server !== false) {
      this.server = await startStatusServer(this.config.server, this.metrics.registry, () => this.ready);
    }
    this.exporter.start();
    if (this.config.metrics !== false) {
      // loaded here, after the log files are open: the scraper imports @sextant/otlp (see encoder.ts)
      const { createMetricsScraper } = await import('./telemetry/scraper.ts');
      this.metricsScraper = createMetricsScraper(this.config, this.config.metrics, { logger: this.log, registry: this.metrics.registry });
      this.metricsScraper.start();
    }
    if (this.config.journald !== false) {
      // the journal is read through the same exporter; its positions sit beside checkpoints.json (journald.json)
      const j = this.config.journald;
      const { createJournaldSource } = await import('./journald/source.ts');
      const { registerJournaldMetrics } = await import('./journald/metrics.ts');
      const source = createJournaldSource({
        ...j,
        checkpointDir: this.config.checkpointDir,
        checkpointIntervalMs: this.config.checkpointIntervalMs,
        shutdownTimeoutMs: this.shutdownTimeoutMs,
        resource: { 'k8s.node.name': this.config.nodeName },
        send: (body) => this.exporter.export(body),
      });
      this.journald = source;
      registerJournaldMetrics(this.metrics.registry, () => source.stats());
      await source.start();
    }
    // checkpoints of files that no longer exist are forgotten
    for (const key of this.saved.keys()) if (!this.tracked.has(key)) this.store.delete(key);
    this.saved.clear();
    this.store.schedule();
    this.timers.push(setInterval(() => this.track(this.scanRoot(false)), this.config.rescanIntervalMs));
    if (this.auditDirs.length > 0) this.timers.push(setInterval(() => this.track(this.scanAuditDirs(false)), this.config.rescanIntervalMs));
    this.timers.push(setInterval(() => this.poll(), this.config.pollIntervalMs));
    for (const t of this.timers) t.unref();
    this.ready = true;
    this.log.info({ root: this.config.logRoot, files: this.tracked.size }, 'node collector started');
  }

  async shutdown(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.ready = false;
    for (const t of this.timers) clearInterval(t);
    await this.metricsScraper?.shutdown();
    this.rootWatcher?.close();
    for (const p of this.pods.values()) this.closePod(p);
    for (const d of this.auditDirs) {
      d.watcher?.close();
      d.watcher = undefined;
    }
    while (this.busy.size > 0) await Promise.allSettled([...this.busy]);
    for (const f of this.tracked.values()) this.cut(f);
    await this.waitSendsIdle(this.shutdownTimeoutMs);
    await this.journald?.shutdown();
    await this.exporter.shutdown();
    for (const f of this.tracked.values()) this.saveCheckpoint(f);
    try {
      await this.store.shutdown();
    } catch (e) {
      this.log.error({ err: e }, 'checkpoint write failed at shutdown');
    }
    for (const f of this.tracked.values()) if (f.fd !== undefined) await this.closeFd(f);
    await this.server?.close();
  }

  // ---- discovery ----

  private track(p: Promise<void>): void {
    this.busy.add(p);
    p.catch((e: unknown) => this.log.warn({ err: e }, 'background task failed')).finally(() => this.busy.delete(p));
  }

  private safeWatch(path: string, onEvent: (type: string, name: string | null) => void): FSWatcher | undefined {
    try {
      const w = watch(path, { persistent: false }, (type, name) => onEvent(type, name));
      w.on('error', () => w.close());
      return w;
    } catch {
      return undefined;
    }
  }

  private watchRoot(): void {
    if (this.rootWatcher !== undefined) return;
    this.rootWatcher = this.safeWatch(this.config.logRoot, () => this.track(this.scanRoot(false)));
  }

  private async scanRoot(startup: boolean): Promise<void> {
    if (this.stopping) return;
    if (this.rootScanning) {
      this.rootScanAgain = true;
      return;
    }
    this.rootScanning = true;
    try {
      do {
        this.rootScanAgain = false;
        if (this.rootWatcher === undefined) this.watchRoot();
        let names: string[];
        try {
          names = await readdirP(this.config.logRoot);
        } catch {
          names = [];
        }
        const seen = new Set<string>();
        const scans: Promise<void>[] = [];
        for (const name of names) {
          const pod = parsePodDir(name);
          if (pod === undefined || !this.filter(pod)) continue;
          seen.add(name);
          let p = this.pods.get(name);
          if (p === undefined) {
            const path = join(this.config.logRoot, name);
            const state: PodDirState = { path, pod, watcher: undefined, containers: new Map(), scanning: false, scanAgain: false };
            state.watcher = this.safeWatch(path, () => this.track(this.scanPod(state, false)));
            this.pods.set(name, state);
            p = state;
          }
          scans.push(this.scanPod(p, startup));
        }
        await Promise.all(scans);
        for (const [name, p] of this.pods) {
          if (!seen.has(name)) {
            this.closePod(p);
            this.pods.delete(name);
            for (const c of p.containers.values()) for (const f of c.files.values()) this.markGone(f);
          }
        }
      } while (this.rootScanAgain && !this.stopping);
    } finally {
      this.rootScanning = false;
    }
  }

  /** Watches each audit log directory (again, if it was missing) and lists it. */
  private async scanAuditDirs(startup: boolean): Promise<void> {
    await Promise.all(
      this.auditDirs.map((dir) => {
        if (dir.watcher === undefined && !this.stopping) dir.watcher = this.safeWatch(dir.path, (type, fname) => this.onContainerEvent(dir, type, fname));
        return this.scanContainer(dir, startup);
      }),
    );
  }

  /** The log file names of a directory: kubelet's `<n>.log[.<time>]`, or an audit log's name and its rotations. */
  private logName(dir: ContainerDir, name: string): { restart: number; rotated: boolean } | undefined {
    if (dir.audit === undefined) return parseLogName(name);
    const m = dir.audit.spec.match(name);
    return m === undefined ? undefined : { restart: 0, rotated: m.rotated };
  }

  private closePod(p: PodDirState): void {
    p.watcher?.close();
    p.watcher = undefined;
    for (const c of p.containers.values()) {
      c.watcher?.close();
      c.watcher = undefined;
    }
  }

  private async scanPod(p: PodDirState, startup: boolean): Promise<void> {
    if (this.stopping) return;
    if (p.scanning) {
      p.scanAgain = true;
      return;
    }
    p.scanning = true;
    try {
      do {
        p.scanAgain = false;
        let names: string[];
        try {
          names = await readdirP(p.path);
        } catch {
          names = [];
        }
        const scans: Promise<void>[] = [];
        for (const name of names) {
          if (!this.filter(p.pod, name)) continue;
          let c = p.containers.get(name);
          if (c === undefined) {
            const path = join(p.path, name);
            const rule = this.multilineRules.find((r) => selectorMatches(r.sel, p.pod, name));
            const dir: ContainerDir = { path, pod: p.pod, container: name, watcher: undefined, files: new Map(), multiline: rule?.opts, scanning: false, scanAgain: false, opening: Promise.resolve() };
            dir.watcher = this.safeWatch(path, (type, fname) => this.onContainerEvent(dir, type, fname));
            p.containers.set(name, dir);
            c = dir;
          }
          scans.push(this.scanContainer(c, startup));
        }
        for (const [name, c] of p.containers) {
          if (names.includes(name)) continue;
          // a container directory that went away: its files are marked gone (and read to EOF) by a last scan
          c.watcher?.close();
          c.watcher = undefined;
          p.containers.delete(name);
          scans.push(this.scanContainer(c, false));
        }
        await Promise.all(scans);
      } while (p.scanAgain && !this.stopping);
    } finally {
      p.scanning = false;
    }
  }

  private onContainerEvent(dir: ContainerDir, type: string, name: string | null): void {
    if (this.stopping) return;
    const f = name !== null ? dir.files.get(name) : undefined;
    if (type === 'change' && f !== undefined && f.fd !== undefined) {
      this.pump(f);
      return;
    }
    if (name !== null && name.endsWith('.gz')) return;
    // fast path: a new live file is opened at once, before the (slower) scan of the whole directory, because
    // under fast rotation it may be renamed and deleted soon (LESSONS.md "Rotation under load")
    const ln = name !== null && type === 'rename' && f === undefined ? this.logName(dir, name) : undefined;
    if (name !== null && ln !== undefined && !ln.rotated) this.track(this.openFast(dir, name));
    this.track(this.scanContainer(dir, false));
  }

  private async openFast(dir: ContainerDir, name: string): Promise<void> {
    const f = await this.openNew(dir, join(dir.path, name), false, false);
    if (f === undefined || this.stopping) return;
    if (!dir.files.has(name)) dir.files.set(name, f);
    this.pump(f);
  }

  private async scanContainer(dir: ContainerDir, startup: boolean): Promise<void> {
    if (this.stopping) return;
    if (dir.scanning) {
      dir.scanAgain = true;
      return;
    }
    dir.scanning = true;
    try {
      do {
        dir.scanAgain = false;
        let names: string[];
        try {
          names = await readdirP(dir.path);
        } catch {
          names = [];
        }
        const found = new Map<string, TrackedFile>();
        for (const name of names) {
          const ln = this.logName(dir, name);
          if (ln === undefined) continue;
          const path = join(dir.path, name);
          let st: BigIntStats;
          try {
            st = await statBig(path);
          } catch {
            continue;
          }
          if (!st.isFile()) continue;
          const key = checkpointKey(st.dev, st.ino);
          let f = this.tracked.get(key);
          if (f === undefined) f = await this.openNew(dir, path, ln.rotated, startup);
          else {
            f.path = path;
            f.rotated = ln.rotated;
            f.gone = false;
            if (f.fd === undefined && f.deferredCopyOf === undefined && Number(st.size) !== f.readOffset) {
              if ((await this.reopen(f)) === 'reused') f = await this.openNew(dir, path, ln.rotated, false);
            }
          }
          if (f !== undefined) {
            found.set(name, f);
            this.pump(f);
          }
        }
        for (const f of dir.files.values()) {
          if (![...found.values()].includes(f)) this.markGone(f);
        }
        dir.files = found;
      } while (dir.scanAgain && !this.stopping);
    } finally {
      dir.scanning = false;
    }
  }

  private markGone(f: TrackedFile): void {
    if (f.gone) return;
    f.gone = true;
    this.pump(f);
  }

  private async readFp(fd: number, len: number): Promise<Buffer> {
    const b = Buffer.alloc(len);
    let n = 0;
    while (n < len) {
      const { bytesRead } = await readP(fd, b, n, len - n, n);
      if (bytesRead === 0) break;
      n += bytesRead;
    }
    return b.subarray(0, n);
  }

  private openNew(dir: ContainerDir, path: string, rotated: boolean, startup: boolean): Promise<TrackedFile | undefined> {
    const next = dir.opening.then(() => this.openNewNow(dir, path, rotated, startup));
    dir.opening = next.catch(() => undefined);
    return next;
  }

  private async openNewNow(dir: ContainerDir, path: string, rotated: boolean, startup: boolean): Promise<TrackedFile | undefined> {
    let fd: number;
    try {
      fd = await openP(path, 'r');
    } catch {
      return undefined;
    }
    const st = await fstatBig(fd);
    const key = checkpointKey(st.dev, st.ino);
    const existing = this.tracked.get(key);
    if (existing !== undefined) {
      // rotated between stat and open: the path now names a file we know
      await closeP(fd);
      return existing;
    }
    const size = Number(st.size);
    const fp = await this.readFp(fd, this.config.fingerprintBytes);
    const f = dir.audit === undefined ? this.newPodFile(dir, path, key, st) : this.newAuditFile(dir, path, key, st);
    f.fd = fd;
    f.rotated = rotated;
    f.fp = fp;
    const saved = this.saved.get(key);
    let start: number | undefined;
    let skip = 0;
    let readFrom: number | undefined;
    let readSkip = 0;
    const fpMatches = saved !== undefined && (saved.fp.length > 0 ? fp.subarray(0, saved.fp.length / 2).toString('hex') === saved.fp : saved.offset === 0);
    if (saved !== undefined && fpMatches) {
      start = saved.offset;
      skip = saved.skip ?? 0;
      if (size < start) {
        this.metrics.truncatedFiles.inc();
        start = 0;
        skip = 0;
      }
    } else if (startup && fp.length >= this.config.fingerprintBytes && this.savedCopyOrigin(fp, key, dir) !== undefined) {
      // a copy made by copytruncate while the collector was down: it continues where the original was acked
      const origin = this.savedCopyOrigin(fp, key, dir);
      start = Math.min(origin?.offset ?? 0, size);
      skip = start === origin?.offset ? (origin.skip ?? 0) : 0;
    } else if (fp.length >= this.config.fingerprintBytes) {
      // a copy (copytruncate) of a file we tail: continue where the original's acked data ended
      const orig = [...dir.files.values(), ...this.tracked.values()].find(
        (o) => o.dir === dir && o.key !== key && ((o.trunc !== undefined && o.trunc.fp.equals(fp)) || o.fp.equals(fp)),
      );
      if (orig !== undefined) {
        if (orig.trunc !== undefined && orig.trunc.fp.equals(fp)) {
          start = Math.min(orig.trunc.committed, size);
          skip = start === orig.trunc.committed ? orig.trunc.committedSkip : 0;
          readFrom = Math.min(orig.trunc.read, size);
          readSkip = readFrom === orig.trunc.read ? orig.trunc.readSkip : 0;
        }
        else {
          f.deferredCopyOf = orig;
          f.deferredSince = Date.now();
          start = 0;
        }
      }
    }
    if (start === undefined) start = startup && (dir.audit?.startAt ?? this.config.startAt) === 'end' ? size : 0;
    f.readOffset = readFrom ?? start;
    f.committedOffset = start;
    f.committedSkip = skip;
    f.parser.setResumeSkip(readFrom !== undefined ? readSkip : skip);
    this.log.debug({ path, key, start: f.readOffset, size, copyOf: f.deferredCopyOf?.path }, 'new file');
    this.tracked.set(key, f);
    this.metrics.filesDiscovered.inc();
    this.metrics.trackedFiles.set(this.tracked.size);
    this.metrics.openFiles.inc();
    if (f.dir.audit !== undefined) this.auditMetrics?.openFiles.inc();
    this.saveCheckpoint(f);
    this.store.schedule();
    return f;
  }

  private newPodFile(dir: ContainerDir, path: string, key: string, st: BigIntStats): TrackedFile {
    const m = parseLogName(path.slice(path.lastIndexOf('/') + 1));
    const header = encodeResourceHeader(
      {
        'k8s.namespace.name': dir.pod.namespace,
        'k8s.pod.name': dir.pod.pod,
        'k8s.pod.uid': dir.pod.uid,
        'k8s.container.name': dir.container,
        'k8s.container.restart_count': m?.restart ?? 0,
        'k8s.node.name': this.config.nodeName,
        'log.file.path': path,
      },
      SCOPE_NAME,
      SCOPE_VERSION,
    );
    const parser = new FileParser({
      maxRecordBytes: this.config.maxRecordBytes,
      multiline: dir.multiline,
      hooks: {
        onTruncated: () => this.metrics.truncatedRecords.inc(),
        onSkippedBytes: (reason, n) => this.metrics.skippedBytes.inc({ reason }, n),
        onParseError: (format) => this.metrics.parseErrors.inc({ format }),
        onInvalidUtf8: () => this.metrics.invalidUtf8.inc(),
      },
    });
    return new TrackedFile(key, String(st.dev), String(st.ino), path, dir, parser, header, () => createBatchEncoder(header));
  }

  /**
   * An API-server audit log file: JSON lines, each an audit.k8s.io/v1 Event mapped as the enrichment audit webhook
   * maps it. The resource names the API server (service.name, as the webhook sets it), the node and the file; it has
   * no pod key, so enrichment passes it through without waiting for pod metadata.
   */
  private newAuditFile(dir: ContainerDir, path: string, key: string, st: BigIntStats): TrackedFile {
    const header = encodeResourceHeader({ 'service.name': 'kube-apiserver', 'k8s.node.name': this.config.nodeName, 'log.file.path': path }, SCOPE_NAME, SCOPE_VERSION);
    const am = this.auditMetrics;
    let bad = 0;
    const parser = new AuditLineParser(dir.audit?.maxLineBytes ?? this.config.maxRecordBytes, {
      onLine: () => am?.lines.inc(),
      onBadLine: (reason, detail, offset, bytes) => {
        am?.badLines.inc({ reason });
        if (reason === 'too_large') this.metrics.skippedBytes.inc({ reason: 'record_too_large' }, bytes);
        // every bad line is counted; the first ones of a file, then one in 1000, are logged
        if (bad++ < 10 || bad % 1000 === 0) this.log.warn({ path, offset, bytes, reason, detail, badLines: bad }, 'audit log line is not an audit.k8s.io/v1 Event; not shipped');
      },
    });
    am?.files.inc();
    return new TrackedFile(key, String(st.dev), String(st.ino), path, dir, parser, header, () => createAuditBatchEncoder(header));
  }

  /** Opens a closed file again; answers 'reused' when its inode now holds another file (other first bytes). */
  /** The checkpoint of another file of this directory that had exactly these first bytes. */
  private savedCopyOrigin(fp: Buffer, key: string, dir: ContainerDir): CheckpointEntry | undefined {
    const hex = fp.toString('hex');
    for (const e of this.saved.values()) {
      if (e.fp === hex && checkpointKey(e.dev, e.ino) !== key && dirname(e.path) === dir.path) return e;
    }
    return undefined;
  }

  private async reopen(f: TrackedFile): Promise<'ok' | 'reused' | 'skipped'> {
    let fd: number;
    try {
      fd = await openP(f.path, 'r');
    } catch {
      return 'skipped';
    }
    const st = await fstatBig(fd);
    if (checkpointKey(st.dev, st.ino) !== f.key || f.fd !== undefined) {
      await closeP(fd);
      return 'skipped';
    }
    if (f.fp.length > 0 && !(await this.readFp(fd, f.fp.length)).equals(f.fp)) {
      // a closed file's inode can be freed and reused by a new file: forget the old one
      this.log.debug({ path: f.path, key: f.key }, 'inode reused');
      await closeP(fd);
      this.tracked.delete(f.key);
      this.store.delete(f.key);
      return 'reused';
    }
    f.fd = fd;
    f.lastGrowthMs = Date.now();
    this.metrics.openFiles.inc();
    if (f.dir.audit !== undefined) this.auditMetrics?.openFiles.inc();
    this.log.debug({ path: f.path, key: f.key, offset: f.readOffset, size: Number(st.size) }, 'reopened');
    return 'ok';
  }

  private async closeFd(f: TrackedFile): Promise<void> {
    const fd = f.fd;
    if (fd === undefined) return;
    f.fd = undefined;
    this.metrics.openFiles.dec();
    if (f.dir.audit !== undefined) this.auditMetrics?.openFiles.dec();
    await closeP(fd).catch(() => undefined);
  }

  // ---- reading ----

  private pump(f: TrackedFile): void {
    if (this.stopping) return;
    if (f.reading) {
      f.again = true;
      return;
    }
    f.reading = true;
    const run = async (): Promise<void> => {
      try {
        do {
          f.again = false;
          await this.readAvailable(f);
        } while (f.again && !this.stopping);
      } finally {
        f.reading = false;
      }
    };
    this.track(run());
  }

  private acquireBuffer(): Promise<Buffer> {
    const b = this.buffers.pop();
    if (b !== undefined) return Promise.resolve(b);
    return new Promise((resolve) => this.bufferWaiters.push(resolve));
  }

  private releaseBuffer(b: Buffer): void {
    const w = this.bufferWaiters.shift();
    if (w !== undefined) w(b);
    else this.buffers.push(b);
  }

  private async readAvailable(f: TrackedFile): Promise<void> {
    if (this.encoderReady === undefined) return; // the initial scan opens files; reading starts once start() loaded the encoder
    await this.encoderReady;
    const fd = f.fd;
    if (fd === undefined || f.deferredCopyOf !== undefined) return;
    const st = await fstatBig(fd);
    let size = Number(st.size);
    if (size < f.readOffset) this.onTruncated(f);
    const emit = (r: ParsedRecord): void => this.addRecord(f, r);
    while (!this.stopping && f.fd === fd) {
      if (this.inflight >= this.config.maxInflightBytes) {
        if (!this.paused.has(f)) this.metrics.readPaused.inc();
        this.paused.add(f);
        return;
      }
      const buf = await this.acquireBuffer();
      if (this.inflight >= this.config.maxInflightBytes || f.fd !== fd) {
        // the bound was reached while this read waited for a buffer
        this.releaseBuffer(buf);
        continue;
      }
      let n: number;
      try {
        n = (await readP(fd, buf, 0, buf.length, f.readOffset)).bytesRead;
        // A copytruncate followed by more writes than we had read hides behind a larger size, and what we just
        // read would be the middle of the new content. The first bytes, checked after the read, tell.
        if (n > 0 && f.fp.length > 0 && !(await this.readFp(fd, f.fp.length)).equals(f.fp)) {
          if (f.fd === fd) this.onTruncated(f);
          continue;
        }
        if (n > 0) {
          const observed = BigInt(Date.now()) * 1_000_000n;
          f.parser.push(buf, n, f.readOffset, observed, emit);
          f.readOffset += n;
          f.lastGrowthMs = Date.now();
          this.metrics.readBytes.inc(n);
          if (f.fp.length < this.config.fingerprintBytes && f.readOffset > f.fp.length) f.fp = await this.readFp(fd, this.config.fingerprintBytes);
        }
      } finally {
        this.releaseBuffer(buf);
      }
      if (n === 0) {
        // EOF; a truncation between our reads shows here as a size below the offset
        size = Number((await fstatBig(fd)).size);
        if (size < f.readOffset) {
          this.onTruncated(f);
          continue;
        }
        if (size > f.readOffset) continue;
        break;
      }
    }
  }

  private onTruncated(f: TrackedFile): void {
    this.metrics.truncatedFiles.inc();
    this.log.info({ path: f.path, offset: f.readOffset }, 'file truncated (copytruncate); reading again from 0');
    // An unfinished line or P/F join is not emitted: its bytes are in the copy, if there is one, which is read
    // from where that record starts. Without a copy they were truncated away; that is counted.
    const readFrom = Math.min(f.readOffset, f.parser.minPendingStart() ?? f.readOffset);
    const pendingBytes = f.parser.pendingBytes();
    if (pendingBytes > 0) this.metrics.skippedBytes.inc({ reason: 'truncated_unfinished' }, pendingBytes);
    f.parser.reset();
    this.cut(f);
    f.trunc = { fp: f.fp, committed: f.committedOffset, committedSkip: f.committedSkip, read: readFrom, readSkip: f.parser.skipMaskAt(readFrom), atMs: Date.now() };
    f.generation++;
    f.readOffset = 0;
    f.committedOffset = 0;
    f.committedSkip = 0;
    f.fp = Buffer.alloc(0);
    this.saveCheckpoint(f);
    this.store.schedule();
    // a copy found before the truncation waits for this snapshot
    for (const o of this.tracked.values()) {
      if (o.deferredCopyOf === f) {
        o.deferredCopyOf = undefined;
        o.readOffset = f.trunc.read;
        o.parser.setResumeSkip(f.trunc.readSkip);
        o.committedOffset = f.trunc.committed;
        o.committedSkip = f.trunc.committedSkip;
        this.saveCheckpoint(o);
        this.pump(o);
      }
    }
  }

  private addRecord(f: TrackedFile, r: ParsedRecord): void {
    let b = f.batch;
    if (b === undefined) {
      const timer = setTimeout(() => {
        if (f.batch === b) this.cut(f);
      }, this.config.batch.maxAgeMs);
      b = { enc: f.newBatch(), resume: f.committedOffset, skip: f.committedSkip, gen: f.generation, bytes: 0, timer };
      f.batch = b;
    }
    const before = b.enc.bytes;
    b.enc.add(r);
    b.resume = r.resumeOffset;
    b.skip = r.resumeSkip;
    // in-flight bytes are the encoded bytes held until the ack
    const cost = b.enc.bytes - before;
    b.bytes += cost;
    this.inflight += cost;
    if (this.inflight > this.inflightMax) {
      this.inflightMax = this.inflight;
      this.metrics.inflightBytesMax.set(this.inflightMax);
    }
    this.metrics.inflightBytes.set(this.inflight);
    this.metrics.records.inc();
    if (b.enc.records >= this.config.batch.maxRecords || b.enc.bytes >= this.config.batch.maxBytes) this.cut(f);
  }

  private cut(f: TrackedFile): void {
    const b = f.batch;
    if (b === undefined) return;
    f.batch = undefined;
    clearTimeout(b.timer);
    const pb: PendingBatch = { resume: b.resume, skip: b.skip, gen: b.gen, acked: false, bytes: b.bytes, records: b.enc.records };
    f.pending.push(pb);
    this.sendQueue.push({ f, b: pb, body: b.enc.finish() });
    this.drainSends();
  }

  // ---- shipping ----

  private drainSends(): void {
    while (this.activeSends < this.config.maxConcurrentRequests && this.sendQueue.length > 0 && !this.stoppedSending()) {
      const item = this.sendQueue.shift();
      if (item === undefined) break;
      this.activeSends++;
      this.exporter
        .export(item.body)
        .catch((e: unknown): ExportResult => ({ kind: 'failure', status: 0, error: String(e) }))
        .then((res) => this.onExported(item.f, item.b, res))
        .catch((e: unknown) => this.log.error({ err: e }, 'export bookkeeping failed'));
    }
    if (this.activeSends === 0 && this.sendQueue.length === 0) for (const w of [...this.sendsIdle]) w();
  }

  private stoppedSending(): boolean {
    return false;
  }

  private onExported(f: TrackedFile, b: PendingBatch, res: ExportResult): void {
    this.activeSends--;
    if (res.kind === 'aborted') {
      this.drainSends();
      return;
    }
    if (res.kind === 'failure') {
      // a permanent refusal (4xx) is counted, never silent, and must not stall the file forever
      this.metrics.dropped.inc({ reason: `rejected_${res.status}` }, b.records);
      this.log.error({ path: f.path, status: res.status, error: res.error, records: b.records }, 'enrichment refused a batch');
    }
    if (f.dir.audit !== undefined) this.auditMetrics?.records.inc({ result: res.kind === 'failure' ? 'rejected' : 'ok' }, b.records);
    b.acked = true;
    this.inflight -= b.bytes;
    this.metrics.inflightBytes.set(this.inflight);
    let moved = false;
    while (f.pending.length > 0 && f.pending[0]?.acked === true) {
      const done = f.pending.shift();
      if (done !== undefined && done.gen === f.generation && (done.resume > f.committedOffset || (done.resume === f.committedOffset && done.skip !== f.committedSkip))) {
        f.committedOffset = done.resume;
        f.committedSkip = done.skip;
        moved = true;
      }
    }
    if (moved && this.tracked.get(f.key) === f) {
      this.saveCheckpoint(f);
      this.store.schedule();
    }
    this.drainSends();
    if (this.inflight < this.config.maxInflightBytes && this.paused.size > 0) {
      const resume = [...this.paused];
      this.paused.clear();
      for (const p of resume) this.pump(p);
    }
  }

  private waitSendsIdle(timeoutMs: number): Promise<void> {
    if (this.activeSends === 0 && this.sendQueue.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.sendsIdle.delete(done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      this.sendsIdle.add(done);
    });
  }

  private saveCheckpoint(f: TrackedFile): void {
    if (f.deferredCopyOf !== undefined) return;
    this.store.set({ dev: f.dev, ino: f.ino, path: f.path, offset: f.committedOffset, fp: f.fp.toString('hex'), skip: f.committedSkip });
  }

  // ---- periodic safety net ----

  private poll(): void {
    if (this.stopping) return;
    const now = Date.now();
    const observed = BigInt(now) * 1_000_000n;
    for (const f of [...this.tracked.values()]) {
      if (f.deferredCopyOf !== undefined && now - f.deferredSince > Math.max(COPY_WAIT_MS, this.config.pollIntervalMs * 3)) {
        // the original's truncation was never seen: read the copy whole (duplicates rather than loss)
        f.deferredCopyOf = undefined;
        this.saveCheckpoint(f);
      }
      if (f.dir.multiline !== undefined && !f.reading) f.parser.flushIdleGroups((r) => this.addRecord(f, r), now, observed);
      if (f.fd !== undefined) {
        if ((f.rotated || f.gone) && !f.reading && now - f.lastGrowthMs >= this.config.rotatedCloseAfterMs) this.track(this.maybeClose(f));
        else this.pump(f);
      } else if (f.gone && f.pending.length === 0 && f.batch === undefined) {
        this.tracked.delete(f.key);
        this.store.delete(f.key);
        this.metrics.trackedFiles.set(this.tracked.size);
      }
    }
  }

  private async maybeClose(f: TrackedFile): Promise<void> {
    const fd = f.fd;
    if (fd === undefined || f.reading) return;
    const size = Number((await fstatBig(fd)).size);
    if (f.reading || f.fd !== fd) return;
    if (size !== f.readOffset) {
      this.pump(f);
      return;
    }
    this.log.debug({ path: f.path, key: f.key, offset: f.readOffset, size, gone: f.gone }, 'closing a rotated or deleted file read to EOF');
    // the end of a rotated file: unfinished joins are emitted as they are
    f.parser.flush((r) => this.addRecord(f, r), BigInt(Date.now()) * 1_000_000n);
    this.cut(f);
    await this.closeFd(f);
  }
}

/** Creates a collector from a (partial) config; values are validated and defaulted here. */
function createNodeCollector(config: NodeCollectorConfig | ResolvedConfig = {}, options: CollectorOptions = {}): NodeCollector {
  const resolved = isResolved(config) ? config : resolveConfig(config);
  return new Collector(resolved, options);
}

function isResolved(c: NodeCollectorConfig | ResolvedConfig): c is ResolvedConfig {
  return Array.isArray((c as ResolvedConfig).multiline) && typeof (c as ResolvedConfig).batch?.maxAgeMs === 'number' && typeof (c as ResolvedConfig).retry?.maxMs === 'number' && Array.isArray((c as ResolvedConfig).exclude) && typeof (c as ResolvedConfig).fingerprintBytes === 'number';
}

export { createNodeCollector };
export type { NodeCollector, CollectorOptions, FileStatus };
