// bench/enrichment: the same pre-encoded OTLP/HTTP logs load through Sextant's enrichment
// service and through the OpenTelemetry Collector (otlp → k8s_attributes → otlp_http), one after
// the other in one run, both watching the same real kube-apiserver with the same pods. Prints
// records per CPU-second of each server process (utime+stime from /proc/<pid>/stat) and the
// ratio; then the heap of the enrichment service with 10,000 pods in its cache.
//
//   node bench/enrichment/run.ts [--load collector|small] [--seconds 20] [--connections 64] [--pods 1000] [--records N]
//                                [--request-compression zstd|gzip|none] [--request-frames framed|single] [--compression gzip|zstd|none] [--heap-pods 10000] [--skip-heap]
//                                [--only sextant|otelcol] [--order none|source] [--cpu-prof-dir DIR] [--node-flags=--max-semi-space-size=32] [--rate RECORDS_PER_S] [--rounds N]
//
// --load collector (default) is what @sextant/node-collector sends with its defaults: one container
// file per request (one resource), cut at batch.maxRecords 2000 (1 MiB maxBytes is not reached by
// these ~250 B records), at most maxConcurrentRequests 4 per node (64 connections = 16 busy nodes),
// compressed with the export's codec as the chart sets it (backend.compression: gzip by default;
// zstd when --compression none), framed per resource. --request-compression zstd with --compression
// gzip is the transcoding case (a node collector left at zstd). --load small is the earlier
// 100-record gzip'd request.
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { gzipSync, zstdCompress } from 'node:zlib';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import type { V1Pod } from '@kubernetes/client-node';
import { createLogsEncoder, encodeGzipFramedLogs, encodeZstdFramedLogs } from '@sextant/otlp';
import type { KeyValue } from '@sextant/otlp';
import { REPO_ROOT, freePort, onProcessExit, otelcolBin, startCluster } from '@sextant/test-env';
import { benchPods, podObject } from './objects.ts';
import type { BenchPod } from './objects.ts';

const { values: opts } = parseArgs({
  options: {
    load: { type: 'string', default: 'collector' },
    seconds: { type: 'string', default: '20' },
    connections: { type: 'string', default: '64' },
    pods: { type: 'string', default: '1000' },
    records: { type: 'string' },
    'request-compression': { type: 'string' },
    'request-frames': { type: 'string', default: 'framed' },
    order: { type: 'string', default: 'none' },
    'heap-pods': { type: 'string', default: '10000' },
    'skip-heap': { type: 'boolean', default: false },
    only: { type: 'string' },
    compression: { type: 'string', default: 'gzip' },
    'cpu-prof-dir': { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    rate: { type: 'string' },
    rounds: { type: 'string', default: '1' },
  },
});
const SECONDS = Number(opts.seconds);
const CONNECTIONS = Number(opts.connections);
const PODS = Number(opts.pods);
if (opts.load !== 'collector' && opts.load !== 'small') throw new Error(`--load ${opts.load}: valid are collector, small`);
const RECORDS = Number(opts.records ?? (opts.load === 'collector' ? 2000 : 100));
// The collector load comes in the export's codec (zstd when the export is uncompressed), as the chart
// configures the node collectors (backend.compression), so Sextant can pass the records through.
const REQUEST_COMPRESSION = opts['request-compression'] ?? (opts.load === 'collector' ? (opts.compression === 'gzip' ? 'gzip' : 'zstd') : 'gzip');
if (opts['request-frames'] !== 'framed' && opts['request-frames'] !== 'single') throw new Error(`--request-frames ${opts['request-frames']}: valid are framed, single`);
if (!['zstd', 'gzip', 'none'].includes(REQUEST_COMPRESSION)) throw new Error(`--request-compression ${REQUEST_COMPRESSION}: valid are zstd, gzip, none`);
const HEAP_PODS = Number(opts['heap-pods']);
// --rate R: offer at most R records per second in all (open loop, spread over the connections)
// instead of as many as the server acks: the CPU per record of a load both peers can sustain.
const RATE = opts.rate === undefined ? undefined : Number(opts.rate);
if (RATE !== undefined && !(RATE > 0)) throw new Error(`--rate ${opts.rate}: records per second, a positive number`);
// --rounds N: after one warm-up, N measured windows per target, each printed; the ratio is taken
// from the medians. At offered rates the runs vary by ±20% on a 2-vCPU VM (bench/README.md round 4).
const ROUNDS = Number(opts.rounds);
if (!Number.isInteger(ROUNDS) || ROUNDS < 1) throw new Error(`--rounds ${opts.rounds}: a whole number of 1 or more`);
const NAMESPACES = 10;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

function log(msg: string): void {
  process.stderr.write(`[bench/enrichment] ${msg}\n`);
}

/** utime + stime of a process, in seconds (fields 14 and 15 of /proc/<pid>/stat). */
async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK;
}

/**
 * CPU seconds per thread group (by thread name: the Node main thread, libuv's pool where zlib and
 * fs calls run, V8's GC/compiler helpers; Go's threads are not named), to say where the CPU goes.
 */
async function cpuByThread(pid: number): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const { readdir } = await import('node:fs/promises');
  for (const tid of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const stat = await readFile(`/proc/${pid}/task/${tid}/stat`, 'utf8').catch(() => '');
    if (stat === '') continue;
    const name = tid === String(pid) ? 'main' : stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')).replace(/[0-9]+$/, '').trim();
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    out.set(name, (out.get(name) ?? 0) + (Number(fields[11]) + Number(fields[12])) / CLK_TCK);
  }
  return out;
}

async function rssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0) * 1024;
}

function portOpen(port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect(port, '127.0.0.1');
    s.once('connect', () => {
      s.destroy();
      res(true);
    });
    s.once('error', () => res(false));
  });
}

async function until(what: string, fn: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function mapLimit<T>(items: readonly T[], limit: number, fn: (x: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: limit }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

/** Deterministic pseudo-random numbers (xorshift32), so both peers and every run get the same bytes. */
function rng(seed: number): () => number {
  let x = seed | 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/**
 * Log lines of ~200 B that vary like an access log (paths, ids, latencies, statuses), different
 * for every pod, so requests compress about as well as real logs do (3.5:1 with zstd here), not
 * 100:1 as one repeated line would, and no compressor window sees another pod's lines again.
 */
function logLines(seed: number, n: number): Uint8Array[] {
  const r = rng(0x9e3779b9 ^ (seed * 2654435761));
  const hex = (len: number): string => {
    let h = '';
    while (h.length < len) h += Math.floor(r() * 2 ** 32).toString(16).padStart(8, '0');
    return h.slice(0, len);
  };
  const paths = ['/api/v1/orders', '/api/v1/carts', '/api/v2/users', '/healthz', '/api/v1/payments/authorize', '/static/app.js'];
  const verbs = ['GET', 'GET', 'GET', 'POST', 'PUT', 'DELETE'];
  const out: Uint8Array[] = [];
  for (let i = 0; i < n; i++) {
    const path = paths[Math.floor(r() * paths.length)] ?? '/';
    const status = r() < 0.93 ? 200 : r() < 0.5 ? 404 : 503;
    const line = `I1124 06:${String(Math.floor(r() * 60)).padStart(2, '0')}:${(r() * 60).toFixed(6).padStart(9, '0')} 1 handler.go:${100 + Math.floor(r() * 90)}] ` +
      `${verbs[Math.floor(r() * verbs.length)] ?? 'GET'} ${path}/${Math.floor(r() * 100000)} ${status} ${(r() * 250).toFixed(1)}ms bytes=${Math.floor(r() * 40000)} ` +
      `user-agent="Mozilla/5.0 (X11; Linux x86_64)" request-id=${hex(8)}-${hex(4)}-${hex(4)}-${hex(12)} trace=${hex(32)}`;
    out.push(Buffer.from(line));
  }
  return out;
}

const zstdAsync = promisify(zstdCompress);

/**
 * As the node collector compresses (its exporter.ts): zstd as frames H, R per resource with their
 * content sizes (@sextant/otlp encodeZstdFramedLogs), gzip as members H, R per resource that name
 * their lengths (encodeGzipFramedLogs, level 1), which the enrichment service keeps compressed
 * through to an otlp_http export of the same codec. --request-frames single: one zstd frame (no
 * content size) or one gzip member (level 6), as before.
 */
async function compressRequest(bytes: Uint8Array): Promise<Buffer> {
  const single = opts['request-frames'] === 'single';
  if (REQUEST_COMPRESSION === 'zstd') return single ? zstdAsync(bytes) : Buffer.concat(await encodeZstdFramedLogs(bytes));
  if (REQUEST_COMPRESSION === 'gzip') return single ? gzipSync(bytes) : Buffer.concat(await encodeGzipFramedLogs(bytes));
  return Buffer.from(bytes);
}

/**
 * One pre-encoded request per pod, encoded the way the node collector encodes a batch
 * (packages/node-collector/src/encoder.ts: @sextant/otlp's logs encoder, one resource with the
 * 7 attributes it sets from the file path, one scope, records with log.iostream).
 */
async function encodeLoad(pods: readonly BenchPod[]): Promise<Buffer[]> {
  const stdout: KeyValue[] = [{ key: 'log.iostream', value: 'stdout' }];
  const enc = createLogsEncoder({ initialSize: RECORDS * 320 });
  const out: Buffer[] = [];
  for (const [n, p] of pods.entries()) {
    enc.beginResource([
      { key: 'k8s.namespace.name', value: p.namespace },
      { key: 'k8s.pod.name', value: p.name },
      { key: 'k8s.pod.uid', value: p.uid },
      { key: 'k8s.container.name', value: 'app' },
      { key: 'k8s.container.restart_count', value: 0n },
      { key: 'k8s.node.name', value: p.node },
      { key: 'log.file.path', value: `/var/log/pods/${p.namespace}_${p.name}_${p.uid}/app/0.log` },
    ]);
    enc.beginScope('sextant-node-collector', '0.1.0');
    const lines = logLines(n, RECORDS);
    const t0 = 1_763_964_000_000_000_000n + BigInt(n) * 1_000_000_000n;
    for (let i = 0; i < RECORDS; i++) {
      const t = t0 + BigInt(i) * 1000n;
      enc.addRecord({ timeUnixNano: t, observedTimeUnixNano: t + 5_000_000n, body: lines[i] ?? new Uint8Array(0), attributes: stdout });
    }
    out.push(await compressRequest(enc.finish()));
  }
  return out;
}

/** The backend for both: accepts OTLP/HTTP and discards it. */
async function startSink(): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
  let n = 0;
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      n++;
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => n,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections();
      server.close(() => r());
    }),
  };
}

interface LoadResult {
  accepted: number;
  rejected: number;
  errors: number;
}

/** CONNECTIONS keep-alive connections posting the pre-encoded bodies round-robin until `until`. */
async function drive(port: number, bodies: readonly Buffer[], untilMs: number): Promise<LoadResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const result: LoadResult = { accepted: 0, rejected: 0, errors: 0 };
  let next = 0;
  const post = (body: Buffer): Promise<number> =>
    new Promise((res) => {
      const req = request(
        { host: '127.0.0.1', port, path: '/v1/logs', method: 'POST', agent, headers: { 'content-type': 'application/x-protobuf', ...(REQUEST_COMPRESSION === 'none' ? {} : { 'content-encoding': REQUEST_COMPRESSION }), 'content-length': body.length } },
        (r) => {
          r.resume();
          r.on('end', () => res(r.statusCode ?? 0));
        },
      );
      req.on('error', () => res(0));
      req.end(body);
    });
  // with --rate: request k may start at start + k / (requests per second)
  const start = performance.now();
  let slot = 0;
  const paced = async (): Promise<void> => {
    if (RATE === undefined) return;
    const at = start + (slot++ * 1000 * RECORDS) / RATE;
    const wait = at - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  };
  await Promise.all(Array.from({ length: CONNECTIONS }, async () => {
    while (Date.now() < untilMs) {
      await paced();
      if (Date.now() >= untilMs) break;
      const status = await post(bodies[next++ % bodies.length] as Buffer);
      if (status === 200) result.accepted++;
      else if (status === 0) result.errors++;
      else {
        result.rejected++;
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  }));
  agent.destroy();
  return result;
}

interface Measured {
  name: string;
  /** Requests the sink (backend) received per accepted client request. */
  exportsPerRequest: number;
  records: number;
  wallSeconds: number;
  /** Seconds after the load stopped until the backend had received everything (inside the CPU window). */
  drainSeconds: number;
  cpuSeconds: number;
  rejected: number;
  errors: number;
  rssBytes: number;
  /** CPU seconds in the measured window per thread group. */
  threads: Map<string, number>;
}

/**
 * Waits until the backend has received nothing for 1.5 s: the peer has exported what it accepted.
 * A peer that acks first and exports later (the collector's in-memory sending queue) would
 * otherwise leave part of its work outside the measured CPU window. Returns the seconds waited.
 */
async function drained(sinkRequests: () => number): Promise<number> {
  const t0 = performance.now();
  let last = sinkRequests();
  let quietSince = performance.now();
  while (performance.now() - quietSince < 1500 && performance.now() - t0 < 300_000) {
    await new Promise((r) => setTimeout(r, 250));
    const now = sinkRequests();
    if (now !== last) {
      last = now;
      quietSince = performance.now();
    }
  }
  return (quietSince - t0) / 1000;
}

async function measure(name: string, proc: ChildProcess, port: number, bodies: readonly Buffer[], sinkRequests: () => number): Promise<Measured[]> {
  log(`${name}: warm-up 3 s`);
  await drive(port, bodies, Date.now() + 3000);
  const rounds: Measured[] = [];
  for (let k = 1; k <= ROUNDS; k++) rounds.push(await measureRound(ROUNDS === 1 ? name : `${name} #${k}`, proc, port, bodies, sinkRequests));
  return rounds;
}

async function measureRound(name: string, proc: ChildProcess, port: number, bodies: readonly Buffer[], sinkRequests: () => number): Promise<Measured> {
  const pid = proc.pid ?? 0;
  // The window starts with nothing left to export and ends once all it accepted is exported.
  await drained(sinkRequests);
  const threads0 = await cpuByThread(pid);
  const cpu0 = await cpuSeconds(pid);
  const sink0 = sinkRequests();
  const t0 = performance.now();
  log(`${name}: measuring ${SECONDS} s with ${CONNECTIONS} connections`);
  const r = await drive(port, bodies, Date.now() + SECONDS * 1000);
  const wall = (performance.now() - t0) / 1000;
  const drainSeconds = await drained(sinkRequests);
  const cpu = (await cpuSeconds(pid)) - cpu0;
  const threads = await cpuByThread(pid);
  for (const [k, v] of threads) threads.set(k, v - (threads0.get(k) ?? 0));
  const rss = await rssBytes(pid);
  return { name, exportsPerRequest: (sinkRequests() - sink0) / Math.max(1, r.accepted), records: r.accepted * RECORDS, wallSeconds: wall, drainSeconds, cpuSeconds: cpu, rejected: r.rejected, errors: r.errors, rssBytes: rss, threads };
}

function spawnLogged(cmd: string, args: string[], logPath: string, env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  return import('node:fs').then(({ openSync, closeSync }) => {
    const fd = openSync(logPath, 'a');
    const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env });
    closeSync(fd);
    const remove = onProcessExit(() => child.kill('SIGKILL'));
    child.once('exit', remove);
    return child;
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
  await exited;
  clearTimeout(t);
}

const dir = await mkdtemp(join(tmpdir(), 'sextant-bench-enrichment-'));
const cluster = await startCluster();
const sink = await startSink();
const results: Measured[][] = [];
try {
  // The same 1,000 pods for both: Running, with IPs, owned by ReplicaSets of Deployments.
  log(`creating ${PODS} pods in ${NAMESPACES} namespaces`);
  const core = cluster.adminClient.makeApiClient(CoreV1Api);
  const apps = cluster.adminClient.makeApiClient(AppsV1Api);
  for (let n = 0; n < NAMESPACES; n++) await cluster.createNamespace(`bench-${n}`, { team: `team-${n}` });
  const pods = benchPods(PODS, NAMESPACES);
  const rsSeen = new Set<string>();
  await mapLimit(pods, 16, async (p) => {
    const rsKey = `${p.namespace}/${p.replicaSet}`;
    if (!rsSeen.has(rsKey)) {
      rsSeen.add(rsKey);
      const app = p.replicaSet.replace(/-[a-z0-9]+$/, '');
      await apps.createNamespacedReplicaSet({
        namespace: p.namespace,
        body: {
          metadata: { name: p.replicaSet, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: app, uid: crypto.randomUUID(), controller: true }] },
          spec: { selector: { matchLabels: { app } }, template: { metadata: { labels: { app } }, spec: { containers: [{ name: 'app', image: 'x' }] } } },
        },
      }).catch(() => undefined); // several pods race to create the same ReplicaSet
    }
    const body = podObject(p, false) as unknown as V1Pod & { metadata: { uid?: string; managedFields?: unknown } };
    delete body.metadata.uid;
    delete body.metadata.managedFields;
    const created = await core.createNamespacedPod({ namespace: p.namespace, body });
    p.uid = created.metadata?.uid ?? '';
    const withStatus = podObject(p, true) as { status: object };
    await core.replaceNamespacedPodStatus({ name: p.name, namespace: p.namespace, body: { ...created, status: withStatus.status } });
  });
  const bodies = await encodeLoad(pods);
  const wireBytes = bodies.reduce((a, b) => a + b.length, 0) / bodies.length;
  log(`load ${opts.load}: ${bodies.length} pre-encoded ${REQUEST_COMPRESSION} requests of ${RECORDS} records, ${Math.round(wireBytes)} B on the wire each`);

  // Sextant: main.ts as its own process, fsync'd queue on disk, exporting to the sink.
  if (opts.only === undefined || opts.only === 'sextant') {
    const port = await freePort();
    const config = join(dir, 'enrichment.yaml');
    await writeFile(
      config,
      [
        `listen: { host: 127.0.0.1, port: ${port} }`,
        `metadata: { source: kubeconfig, path: ${cluster.kubeconfigPath}, clusterName: bench, waitForPod: 2s }`,
        `queue: { dir: ${join(dir, 'queue')}, maxBytes: 2Gi }`,
        `exporter: { protocol: otlp_http, endpoint: "http://127.0.0.1:${sink.port}", compression: ${opts.compression} }`,
        `export: { order: ${opts.order} }`,
        'log: { level: warn }',
        '',
      ].join('\n'),
    );
    const prof = opts['cpu-prof-dir'] === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${opts['cpu-prof-dir']}`];
    const flags = opts['node-flags'] === '' ? [] : opts['node-flags'].split(' ');
    const child = await spawnLogged(process.execPath, [...flags, ...prof, resolve(REPO_ROOT, 'packages/enrichment/src/main.ts'), '--config', config], join(dir, 'enrichment.log'), process.env);
    try {
      await until('sextant ready', async () => {
        if (!(await portOpen(port))) return false;
        const res = await fetch(`http://127.0.0.1:${port}/readyz`).catch(() => undefined);
        return res?.status === 200;
      }, 120_000);
      results.push(await measure('sextant enrichment', child, port, bodies, sink.requests));
    } finally {
      await stop(child);
    }
  }

  // The OTel Collector: otlp → k8s_attributes → otlp_http, same API server, same sink.
  if (opts.only === undefined || opts.only === 'otelcol') {
    const port = await freePort();
    const config = join(dir, 'otelcol.yaml');
    const metadata = [
      'k8s.namespace.name', 'k8s.pod.name', 'k8s.pod.uid', 'k8s.pod.start_time', 'k8s.pod.ip', 'k8s.node.name',
      'k8s.deployment.name', 'k8s.replicaset.name', 'k8s.statefulset.name', 'k8s.daemonset.name', 'k8s.job.name', 'k8s.cronjob.name',
      'container.image.name', 'container.image.tag',
    ];
    await writeFile(
      config,
      JSON.stringify({
        receivers: { otlp: { protocols: { http: { endpoint: `127.0.0.1:${port}` } } } },
        processors: {
          k8s_attributes: {
            auth_type: 'kubeConfig',
            wait_for_metadata: true,
            wait_for_metadata_timeout: '60s',
            extract: { metadata },
            pod_association: [{ sources: [{ from: 'resource_attribute', name: 'k8s.pod.uid' }] }],
          },
          // The batch processor, as production collector configs have it: without it the exporter
          // sends one request per client request and, with 64 connections, its queue overflows (4xx).
          batch: {},
        },
        exporters: { otlp_http: { endpoint: `http://127.0.0.1:${sink.port}`, compression: opts.compression } },
        service: {
          telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
          pipelines: { logs: { receivers: ['otlp'], processors: ['k8s_attributes', 'batch'], exporters: ['otlp_http'] } },
        },
      }),
    );
    const child = await spawnLogged(await otelcolBin(), [`--config=file:${config}`], join(dir, 'otelcol.log'), { ...process.env, KUBECONFIG: cluster.kubeconfigPath });
    try {
      await until('otelcol listening', () => portOpen(port), 120_000);
      results.push(await measure('otelcol k8s_attributes', child, port, bodies, sink.requests));
    } finally {
      await stop(child);
    }
  }
} finally {
  await sink.close();
  await cluster.stop();
}

const perCpu = (m: Measured): number => m.records / m.cpuSeconds;
const all = results.flat();
const rows = all.map((m) =>
  [m.name.padEnd(24), String(Math.round(m.records / m.wallSeconds)).padStart(12), m.drainSeconds.toFixed(1).padStart(7), m.cpuSeconds.toFixed(2).padStart(8), String(Math.round(perCpu(m))).padStart(16),
    String(Math.round(m.rssBytes / 1e6)).padStart(7), m.exportsPerRequest.toFixed(2).padStart(11), String(m.rejected).padStart(6), String(m.errors).padStart(6)].join('  '),
);
const load = (await readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
process.stdout.write(`\nbench/enrichment: load ${opts.load}, ${PODS} pods, ${RECORDS} records/request (${REQUEST_COMPRESSION}), ${CONNECTIONS} connections${RATE === undefined ? "" : `, offered ${RATE} records/s`}, ${SECONDS} s each${ROUNDS === 1 ? '' : ` x ${ROUNDS} rounds`}, export compression ${opts.compression}, Node ${process.version}, load average ${load}\n`);
process.stdout.write(`${'target'.padEnd(24)}  ${'records/s'.padStart(12)}  ${'drain s'.padStart(7)}  ${'CPU s'.padStart(8)}  ${'records/CPU-s'.padStart(16)}  ${'RSS MB'.padStart(7)}  ${'exports/req'.padStart(11)}  ${'4xx'.padStart(6)}  ${'err'.padStart(6)}\n${rows.join('\n')}\n`);
for (const m of all) {
  const parts = [...m.threads].filter(([, v]) => v >= 0.01).sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v.toFixed(2)} s (${Math.round((100 * v) / m.cpuSeconds)}%)`);
  process.stdout.write(`  ${m.name} CPU by thread: ${parts.join(', ')}\n`);
}
/** Median records per CPU-second of one target's rounds. */
function median(rounds: readonly Measured[]): number {
  const v = rounds.map(perCpu).sort((a, b) => a - b);
  const mid = Math.floor(v.length / 2);
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2;
}
const [ours, theirs] = results;
if (ours !== undefined && theirs !== undefined) {
  const of = ROUNDS === 1 ? '' : `, medians of ${ROUNDS} rounds: ${Math.round(median(ours))} / ${Math.round(median(theirs))}`;
  process.stdout.write(`ratio (sextant / otelcol, records per CPU-second${of}): ${(median(ours) / median(theirs)).toFixed(2)}x  (goal >= 4x)\n`);
} else if (ours !== undefined && ROUNDS > 1) {
  process.stdout.write(`${ours[0]?.name.replace(/ #1$/, '')}: median of ${ROUNDS} rounds ${Math.round(median(ours))} records per CPU-second\n`);
}

if (!opts['skip-heap']) {
  log(`heap: ${HEAP_PODS} pods in the cache (file source)`);
  const objectsPath = join(dir, 'objects.json');
  const pods = benchPods(HEAP_PODS, 50);
  const items: object[] = [];
  for (let n = 0; n < 50; n++) items.push({ apiVersion: 'v1', kind: 'Namespace', metadata: { name: `bench-${n}`, uid: crypto.randomUUID(), labels: { team: `t${n}` } } });
  for (let n = 0; n < HEAP_PODS / 50; n++) items.push({ apiVersion: 'v1', kind: 'Node', metadata: { name: `node-${n}`, uid: crypto.randomUUID(), labels: { 'topology.kubernetes.io/zone': `z${n % 3}` } } });
  const rsDone = new Set<string>();
  for (const p of pods) {
    if (!rsDone.has(p.replicaSet + p.namespace)) {
      rsDone.add(p.replicaSet + p.namespace);
      items.push({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: p.replicaSet, namespace: p.namespace, uid: crypto.randomUUID(), ownerReferences: [{ apiVersion: 'apps/v1', kind: 'Deployment', name: p.replicaSet.replace(/-[a-z0-9]+$/, ''), uid: crypto.randomUUID(), controller: true }] } });
    }
    items.push(podObject(p, true));
  }
  const json = JSON.stringify({ apiVersion: 'v1', kind: 'List', items });
  await writeFile(objectsPath, json);
  await writeFile(join(dir, 'empty.json'), JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [] }));
  const out = execFileSync(process.execPath, ['--expose-gc', resolve(REPO_ROOT, 'bench/enrichment/heap.ts'), objectsPath, dir], { encoding: 'utf8' });
  const h = JSON.parse(out) as { empty: { heapUsed: number; rss: number }; full: { heapUsed: number; rss: number; pods: number } };
  const mb = (n: number): string => (n / 1024 / 1024).toFixed(1);
  process.stdout.write(
    `heap with ${h.full.pods} pods cached: ${mb(h.full.heapUsed)} MiB heapUsed (empty cache: ${mb(h.empty.heapUsed)} MiB; ` +
      `cache: ${mb(h.full.heapUsed - h.empty.heapUsed)} MiB, ${Math.round((h.full.heapUsed - h.empty.heapUsed) / HEAP_PODS)} B/pod; RSS ${mb(h.full.rss)} MiB; ` +
      `input ${Math.round(json.length / HEAP_PODS)} B of JSON per pod)  (goal < 50 MB)\n`,
  );
}
if (process.env["SEXTANT_BENCH_KEEP"] === undefined) await rm(dir, { recursive: true, force: true });
else console.log(`kept ${dir}`);
