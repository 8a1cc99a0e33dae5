// bench/collector (issue 6): the same generated /var/log/pods tree, in one run, through Sextant's node collector and
// through the OpenTelemetry Collector (file_log + container parser → batch → otlp_http), both exporting zstd
// OTLP/HTTP to the same sink process (sink.ts), which checks every line arrived once and unchanged.
//   0. parse only: FileParser over 256 KiB chunks of one generated file, in this process;
//   1. per collector, a fresh process: a live file appended at a steady rate (default 10k lines/s for 10 s) with
//      RSS (VmRSS) sampled; then the pre-written tree is moved into its log root at once (rename of each pod
//      directory; files are hard links of the same generated files) and the CPU (utime + stime + children of
//      /proc/<pid>/stat) is measured from just before the move until the sink has received every line.
// Prints lines and MB per CPU-second for each, the ratio, wall time, peak RSS (VmHWM) and RSS at the steady rate.
// LESSONS.md "Performance": the OTel Collector did about 75k 200-byte CRI lines per CPU-second on this kind of data.
//
//   node bench/collector/run.ts [--lines 1000000] [--pods 4] [--containers 2] [--rate 10000] [--rate-seconds 10]
//                               [--compression zstd|gzip] [--only sextant|otelcol] [--skip-parse] [--keep (the work dir and logs)]
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import type { WriteStream } from 'node:fs';
import { link, mkdir, mkdtemp, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { FileParser } from '@sextant/node-collector';
import { REPO_ROOT, onProcessExit, otelcolBin } from '@sextant/test-env';
import { stringify as toYaml } from 'yaml';
import { criLines, generate } from './gen.ts';

const { values: opts } = parseArgs({
  options: {
    lines: { type: 'string', default: '1000000' },
    pods: { type: 'string', default: '4' },
    containers: { type: 'string', default: '2' },
    rate: { type: 'string', default: '10000' },
    'rate-seconds': { type: 'string', default: '10' },
    compression: { type: 'string', default: 'zstd' },
    only: { type: 'string' },
    'skip-parse': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
  },
});
const PODS = Number(opts.pods);
const CONTAINERS = Number(opts.containers);
const FILES = PODS * CONTAINERS;
const PER_FILE = Math.floor(Number(opts.lines) / FILES);
const TOTAL = PER_FILE * FILES;
const RATE = Number(opts.rate);
const RATE_SECONDS = Number(opts['rate-seconds']);
const COMPRESSION = opts.compression;
if (COMPRESSION !== 'zstd' && COMPRESSION !== 'gzip') throw new Error(`--compression ${COMPRESSION}: zstd or gzip`);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;
const LIVE_SEED = 1000;

function log(msg: string): void {
  process.stderr.write(`[bench/collector] ${msg}\n`);
}

/** utime + stime + cutime + cstime of a process, in seconds (fields 14–17 of /proc/<pid>/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / CLK_TCK;
}

/** VmRSS and VmHWM of a process, in bytes. */
async function memory(pid: number): Promise<{ rss: number; hwm: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const mb = (b: number): string => (b / 2 ** 20).toFixed(0);
const int = (n: number): string => Math.round(n).toLocaleString('en-US');

interface SinkStats {
  requests: number;
  records: number;
  distinct: number;
  duplicates: number;
  changed: number;
  unknown: number;
  bodyBytes: number;
  requestBytes: number;
  changedExample?: { got: string; want: string };
}

function parseOnly(data: Buffer, lines: number): number {
  const hooks = { onTruncated: () => undefined, onSkippedBytes: () => undefined, onParseError: () => undefined, onInvalidUtf8: () => undefined };
  let best = 0;
  for (let round = 0; round < 3; round++) {
    const p = new FileParser({ maxRecordBytes: 1 << 20, hooks });
    let records = 0;
    const chunk = Buffer.allocUnsafe(256 * 1024);
    const cpu = process.cpuUsage();
    for (let off = 0; off < data.length; off += chunk.length) {
      const n = data.copy(chunk, 0, off, Math.min(off + chunk.length, data.length));
      p.push(chunk, n, off, 0n, () => {
        records++;
      });
    }
    const u = process.cpuUsage(cpu);
    if (records !== lines) throw new Error(`parse only: ${records} records, expected ${lines}`);
    best = Math.max(best, lines / ((u.user + u.system) / 1e6));
  }
  return best;
}

interface Target {
  readonly name: 'sextant' | 'otelcol';
  /** Starts the collector on `root`; resolves once it runs. */
  start(root: string, dir: string, sinkPort: number): Promise<{ child: ChildProcess; config: string }>;
}

const stopping = new WeakSet<ChildProcess>();

function spawnLogged(cmd: string, args: string[], logPath: string, env: NodeJS.ProcessEnv): ChildProcess {
  const out = createWriteStream(logPath);
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  child.stdout?.pipe(out);
  child.stderr?.pipe(out);
  const off = onProcessExit(() => child.kill('SIGKILL'));
  child.once('exit', (code, signal) => {
    off();
    if (!stopping.has(child)) log(`!!! ${cmd} exited unexpectedly (${code ?? signal ?? ''}); log: ${logPath}`);
  });
  return child;
}

function waitForOutput(child: ChildProcess, what: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((res, rej) => {
    let seen = '';
    const timer = setTimeout(() => rej(new Error(`timed out waiting for ${String(what)}; output: ${seen.slice(-2000)}`)), timeoutMs);
    const onData = (d: Buffer): void => {
      seen += d.toString();
      if (what.test(seen)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        child.stderr?.off('data', onData);
        res();
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => rej(new Error(`exited with ${code} before ${String(what)}; output: ${seen.slice(-2000)}`)));
  });
}

const sextant: Target = {
  name: 'sextant',
  async start(root, dir, sinkPort) {
    const config = toYaml({
      log_root: root,
      node_name: 'bench',
      checkpoint_dir: join(dir, 'checkpoints'),
      start_at: 'beginning',
      endpoints: [`127.0.0.1:${sinkPort}`],
      compression: COMPRESSION,
      // the status server on a free port, as in production (it also keeps main.ts alive: with `server: false` every
      // timer and watcher is unref'd and the process exits when idle)
      server: { port: 0, host: '127.0.0.1' },
    });
    const path = join(dir, 'collector.yaml');
    await writeFile(path, config);
    const child = spawnLogged(process.execPath, [resolve(REPO_ROOT, 'packages/node-collector/src/main.ts'), path], join(dir, 'collector.log'), {
      ...process.env,
      SEXTANT_LOG_LEVEL: 'warn',
    });
    await waitForOutput(child, /sextant-node-collector-ready/, 60_000);
    return { child, config };
  },
};

const otelcol: Target = {
  name: 'otelcol',
  async start(root, dir, sinkPort) {
    const config = toYaml({
      receivers: {
        file_log: {
          include: [`${root}/*/*/*.log`],
          start_at: 'beginning',
          include_file_path: true,
          // the container parser's add_metadata_from_filepath (default true) reads log.file.path and sets the
          // k8s.* resource attributes from it, as Sextant does from the path. format: the CRI format as containerd writes
          // it (the parser's names are docker, crio, containerd; explicit, so no per-line format detection)
          operators: [{ type: 'container', format: 'containerd' }],
        },
      },
      processors: { batch: {} },
      exporters: { otlp_http: { endpoint: `http://127.0.0.1:${sinkPort}`, compression: COMPRESSION } },
      service: {
        telemetry: { metrics: { level: 'none' }, logs: { level: 'info' } },
        pipelines: { logs: { receivers: ['file_log'], processors: ['batch'], exporters: ['otlp_http'] } },
      },
    });
    const path = join(dir, 'otelcol.yaml');
    await writeFile(path, config);
    const child = spawnLogged(await otelcolBin(), [`--config=file:${path}`], join(dir, 'otelcol.log'), process.env);
    await waitForOutput(child, /Everything is ready/, 60_000);
    return { child, config };
  },
};

interface Result {
  name: string;
  config: string;
  startupCpu: number;
  live: { lines: number; cpu: number; rssMedian: number; rssMax: number; sink: SinkStats };
  bulk: { cpu: number; wall: number; sink: SinkStats; rssMax: number; complete: boolean };
  hwm: number;
}

async function sinkStats(port: number): Promise<SinkStats> {
  return (await (await fetch(`http://127.0.0.1:${port}/stats`)).json()) as SinkStats;
}

/** Polls the sink until `want` distinct lines arrived, or nothing new arrived for `stallMs`. */
async function waitForLines(port: number, want: number, stallMs: number, onTick?: () => Promise<void>): Promise<{ stats: SinkStats; complete: boolean }> {
  let last = -1;
  let lastChange = Date.now();
  for (;;) {
    const s = await sinkStats(port);
    if (s.distinct >= want) return { stats: s, complete: true };
    if (s.records !== last) {
      last = s.records;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > stallMs) return { stats: s, complete: false };
    if (onTick !== undefined) await onTick();
    await sleep(50);
  }
}

/** Appends RATE lines/s to `path` for RATE_SECONDS; calls sample() every 250 ms. */
async function steadyWriter(out: WriteStream, sample: () => Promise<void>): Promise<number> {
  const total = RATE * RATE_SECONDS;
  const t0 = performance.now();
  let written = 0;
  let nextSample = t0 + 250;
  while (written < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * RATE));
    if (due > written) {
      const chunk = criLines(LIVE_SEED, written, due);
      written = due;
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    if (performance.now() >= nextSample) {
      nextSample += 250;
      await sample();
    }
    await sleep(10);
  }
  await new Promise<void>((r) => out.end(r));
  return written;
}

async function runTarget(t: Target, work: string, stage: string, podDirs: string[], sinkPort: number): Promise<Result> {
  const dir = join(work, t.name);
  const root = join(dir, 'root');
  const livePath = join(root, `bench_live-${t.name}_uid-live`, 'app', '0.log');
  await mkdir(join(root, `bench_live-${t.name}_uid-live`, 'app'), { recursive: true });
  await writeFile(livePath, '');
  await fetch(`http://127.0.0.1:${sinkPort}/reset`, { method: 'POST' });
  log(`${t.name}: starting`);
  const { child, config } = await t.start(root, dir, sinkPort);
  const pid = child.pid ?? 0;
  try {
    const startupCpu = await cpuSeconds(pid);

    // steady rate: RSS sampled after the first 2 s
    log(`${t.name}: ${RATE} lines/s for ${RATE_SECONDS} s into a live file`);
    const rss: number[] = [];
    const liveT0 = performance.now();
    const liveCpu0 = await cpuSeconds(pid);
    const liveLines = await steadyWriter(createWriteStream(livePath, { flags: 'a' }), async () => {
      if (performance.now() - liveT0 > 2000) rss.push((await memory(pid)).rss);
    });
    const liveSink = await waitForLines(sinkPort, liveLines, 15_000);
    const liveCpu = (await cpuSeconds(pid)) - liveCpu0;
    if (!liveSink.complete) log(`!!! ${t.name}: only ${liveSink.stats.distinct} of ${liveLines} live lines arrived`);
    rss.sort((a, b) => a - b);

    // the tree, moved in at once
    await fetch(`http://127.0.0.1:${sinkPort}/reset`, { method: 'POST' });
    const mine = join(dir, 'stage');
    for (const p of podDirs) {
      for (let c = 0; c < CONTAINERS; c++) {
        await mkdir(join(mine, p, `c${c}`), { recursive: true });
        await link(join(stage, p, `c${c}`, '0.log'), join(mine, p, `c${c}`, '0.log'));
      }
    }
    log(`${t.name}: ${TOTAL.toLocaleString('en-US')} lines moved into the log root`);
    let rssMax = 0;
    const cpu0 = await cpuSeconds(pid);
    const t0 = performance.now();
    for (const p of podDirs) await rename(join(mine, p), join(root, p));
    const bulk = await waitForLines(sinkPort, TOTAL, 20_000, async () => {
      rssMax = Math.max(rssMax, (await memory(pid)).rss);
    });
    const wall = (performance.now() - t0) / 1000;
    const cpu = (await cpuSeconds(pid)) - cpu0;
    // late duplicates
    await sleep(1000);
    const sink = await sinkStats(sinkPort);
    const hwm = (await memory(pid)).hwm;
    return {
      name: t.name,
      config,
      startupCpu,
      live: { lines: liveLines, cpu: liveCpu, rssMedian: rss[Math.floor(rss.length / 2)] ?? 0, rssMax: rss[rss.length - 1] ?? 0, sink: liveSink.stats },
      bulk: { cpu, wall, sink, rssMax, complete: bulk.complete },
      hwm,
    };
  } finally {
    stopping.add(child);
    child.kill('SIGTERM');
    await Promise.race([new Promise((r) => child.once('exit', r)), sleep(10_000)]);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const work = await mkdtemp(join(tmpdir(), 'sextant-bench-collector-'));
const removeWork = onProcessExit(() => {
  if (!opts.keep) execFileSync('rm', ['-rf', work]);
});
const sink = spawn(process.execPath, [fileURLToPath(new URL('./sink.ts', import.meta.url))], { stdio: ['ignore', 'pipe', 'inherit'] });
const killSink = onProcessExit(() => sink.kill('SIGKILL'));
let failed = false;
try {
  const tStart = performance.now();
  const load0 = loadavg();
  const sinkPort = await new Promise<number>((r) => sink.stdout.once('data', (d: Buffer) => r(Number(d.toString().trim()))));

  // the tree: PODS pods × CONTAINERS containers, PER_FILE records each
  const stage = join(work, 'tree');
  const podDirs: string[] = [];
  let treeBytes = 0;
  let first: Buffer | undefined;
  for (let p = 0; p < PODS; p++) {
    const pod = `bench_pod-${p}_0000000${p}-aaaa-bbbb-cccc-dddddddddddd`;
    podDirs.push(pod);
    for (let c = 0; c < CONTAINERS; c++) {
      const data = generate(PER_FILE, p * CONTAINERS + c);
      first ??= data;
      treeBytes += data.length;
      await mkdir(join(stage, pod, `c${c}`), { recursive: true });
      await writeFile(join(stage, pod, `c${c}`, '0.log'), data);
    }
  }
  log(`tree: ${FILES} files, ${TOTAL.toLocaleString('en-US')} lines (every 5th split P/F), ${(treeBytes / 1e6).toFixed(1)} MB`);

  const parseRate = opts['skip-parse'] || first === undefined ? undefined : parseOnly(first, PER_FILE);
  const results: Result[] = [];
  for (const t of [sextant, otelcol]) {
    if (opts.only !== undefined && opts.only !== t.name) continue;
    results.push(await runTarget(t, work, stage, podDirs, sinkPort));
  }
  const load1 = loadavg();

  const out: string[] = [];
  out.push(`collector bench: ${TOTAL.toLocaleString('en-US')} CRI lines of ~200 B (${(treeBytes / 1e6).toFixed(1)} MB, ${FILES} files), ${COMPRESSION} OTLP/HTTP to one sink`);
  out.push(`machine: ${execFileSync('nproc').toString().trim()} CPUs, load average ${load0.map((l) => l.toFixed(1)).join(' ')} at start, ${load1.map((l) => l.toFixed(1)).join(' ')} at end`);
  if (parseRate !== undefined) out.push(`parse only (FileParser, this process): ${int(parseRate)} lines per CPU-second (best of 3)`);
  out.push('');
  out.push('collector  lines/CPU-s  MB/CPU-s  CPU-s   wall s  lines/s(wall)  received  distinct  dup  changed  startup CPU-s  peak RSS MiB  RSS@10k/s MiB (max)  CPU@10k/s');
  for (const r of results) {
    const b = r.bulk;
    out.push(
      [
        r.name.padEnd(9),
        int(TOTAL / b.cpu).padStart(11),
        (treeBytes / 1e6 / b.cpu).toFixed(1).padStart(8),
        b.cpu.toFixed(2).padStart(6),
        b.wall.toFixed(2).padStart(7),
        int(TOTAL / b.wall).padStart(13),
        int(b.sink.records).padStart(9),
        int(b.sink.distinct).padStart(9),
        int(b.sink.duplicates).padStart(4),
        int(b.sink.changed).padStart(8),
        r.startupCpu.toFixed(2).padStart(14),
        mb(r.hwm).padStart(13),
        `${mb(r.live.rssMedian)} (${mb(r.live.rssMax)})`.padStart(20),
        `${((r.live.cpu / RATE_SECONDS) * 100).toFixed(0)}% core`.padStart(10),
      ].join('  '),
    );
  }
  out.push('');
  for (const r of results) {
    const lost = TOTAL - r.bulk.sink.distinct;
    const liveLost = r.live.lines - r.live.sink.distinct;
    if (lost > 0 || liveLost > 0 || r.bulk.sink.unknown > 0) {
      failed = true;
      out.push(`!!! ${r.name} LOST LINES: ${lost.toLocaleString('en-US')} of ${TOTAL.toLocaleString('en-US')} (tree), ${liveLost} of ${r.live.lines} (live file); ${r.bulk.sink.unknown} unrecognised records — its figures are not comparable`);
    } else out.push(`${r.name}: every line delivered (${TOTAL.toLocaleString('en-US')} + ${r.live.lines.toLocaleString('en-US')} live), ${r.bulk.sink.duplicates} duplicates, ${r.bulk.sink.changed.toLocaleString('en-US')} bodies not byte-identical`);
    const ex = r.bulk.sink.changedExample;
    if (ex !== undefined) out.push(`  e.g. got  ${JSON.stringify(ex.got)}\n       want ${JSON.stringify(ex.want)}`);
  }
  const ours = results.find((r) => r.name === 'sextant');
  const theirs = results.find((r) => r.name === 'otelcol');
  if (ours !== undefined) {
    const perCpu = TOTAL / ours.bulk.cpu;
    out.push(`goal >= 250,000 lines per CPU-second: ${int(perCpu)} — ${perCpu >= 250_000 ? 'met' : 'NOT met'}`);
  }
  if (ours !== undefined && theirs !== undefined) {
    const ratio = theirs.bulk.cpu / ours.bulk.cpu;
    out.push(`ratio sextant / otelcol (lines per CPU-second): ${ratio.toFixed(2)}x — goal >= 4x ${ratio >= 4 ? 'met' : 'NOT met'}`);
  }
  out.push(`bench wall time ${((performance.now() - tStart) / 1000).toFixed(0)} s`);
  process.stdout.write(`${out.join('\n')}\n`);
  for (const r of results) log(`${r.name} config:\n${r.config}`);
} finally {
  sink.kill();
  killSink();
  removeWork();
  if (opts.keep) log(`kept ${work}`);
  else await rm(work, { recursive: true, force: true });
}
if (failed) process.exitCode = 1;
