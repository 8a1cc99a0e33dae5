// Trace receiver benchmark (issue 7): the same pre-encoded OTLP gRPC load, in one run, through
// Sextant's trace receiver and through the OpenTelemetry Collector (otlp → k8s_attributes →
// otlp_grpc), both associating by the connection's address against the same real kube-apiserver
// and exporting to the same sink. Prints spans per second and spans per CPU-second of each server
// process (utime + stime from /proc/<pid>/stat over the measured window) and the ratio.
//
//   node bench/traces/run.ts [--shape sdk|small] [--spans N] [--seconds 15] [--pods 300] [--streams 32] [--only sextant|otelcol]
//                            [--rounds 3] [--export-concurrency N (default: Sextant's default)] [--profile DIR]  (V8 CPU profile of the Sextant process into DIR)
//                            [--node-flags=...] [--logs DIR]  (keep both servers' logs)
//                            [--sextant-entry PATH]  (another build's main.ts, e.g. an older commit's, for before/after)
//                            [--sextant-extra JSON]  (top-level keys merged into Sextant's config, e.g.
//                             '{"runtime":{"externalMemoryInHeapLimit":false}}')
//
// Load shapes (both servers always get the identical pre-encoded requests in one run):
// - sdk (default): 512 spans per request. That is what the real senders send under load: the OTel
//   SDK's BatchSpanProcessor exports up to maxExportBatchSize spans per request, default 512
//   (@opentelemetry/sdk-trace 3.1, BatchSpanProcessorBase: `options.maxExportBatchSize ?? 512`),
//   and a busy app fills every batch.
// - small: 100 spans per request (this benchmark's first shape; a lightly loaded app).
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CoreV1Api } from '@kubernetes/client-node';
import { encodeTraceRequest } from '@sextant/otlp';
import type { TraceRequestInit } from '@sextant/otlp';
import { freePort, otelcolBin, startCluster } from '@sextant/test-env';
import type { Cluster } from '@sextant/test-env';
import { stringify as toYaml } from 'yaml';
import { createRawGrpcClient } from '../../packages/trace-receiver/test/helpers.ts';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, '..', '..');
const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '15' },
    warmup: { type: 'string', default: '3' },
    pods: { type: 'string', default: '300' },
    shape: { type: 'string', default: 'sdk' },
    spans: { type: 'string' },
    logs: { type: 'string' },
    'sextant-extra': { type: 'string', default: '{}' },
    'sextant-entry': { type: 'string' },
    streams: { type: 'string', default: '32' },
    connections: { type: 'string', default: '4' },
    only: { type: 'string' },
    profile: { type: 'string' },
    'export-concurrency': { type: 'string' },
    rounds: { type: 'string', default: '3' },
    'node-flags': { type: 'string', default: '' },
  },
});
const SECONDS = Number(args.seconds);
const WARMUP = Number(args.warmup);
const PODS = Number(args.pods);
const SHAPES: Record<string, number> = { sdk: 512, small: 100 };
const shapeSpans = SHAPES[args.shape];
if (shapeSpans === undefined) throw new Error(`--shape ${args.shape}: valid: ${Object.keys(SHAPES).join(', ')}`);
const SPANS = args.spans === undefined ? shapeSpans : Number(args.spans);
const STREAMS = Number(args.streams);
const CONNECTIONS = Number(args.connections);
const ROUNDS = Number(args.rounds);
/** The load's source address: the IP of one of the registered pods. */
const CLIENT_IP = '127.0.0.77';

function log(msg: string): void {
  process.stderr.write(`[bench/traces] ${msg}\n`);
}

async function cpuSeconds(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[11] = utime, fields[12] = stime (14th and 15th of the full line), in clock ticks (100/s)
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function rssMiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024;
}

function hex(n: number, bytes: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (n >> ((i % 4) * 8)) & 0xff ^ (i * 17);
  return out;
}

/** One pre-encoded request: one resource (an SDK-like resource, no k8s attributes), SPANS spans. */
function encodeLoad(variants: number): Buffer[] {
  const out: Buffer[] = [];
  for (let v = 0; v < variants; v++) {
    const init: TraceRequestInit = {
      resourceSpans: [
        {
          resource: {
            attributes: [
              ['service.name', 'checkout'],
              ['service.version', '2.1.0'],
              ['telemetry.sdk.language', 'nodejs'],
              ['telemetry.sdk.name', 'opentelemetry'],
              ['telemetry.sdk.version', '3.1.0'],
              ['host.name', 'checkout-6d4f8b7c9-x2x9q'],
            ].map(([key = '', value = '']) => ({ key, value: { value: { case: 'stringValue' as const, value } } })),
          },
          scopeSpans: [
            {
              scope: { name: '@opentelemetry/instrumentation-http', version: '0.301.0' },
              spans: Array.from({ length: SPANS }, (_, i) => ({
                traceId: hex(v * 1000 + Math.floor(i / 10), 16),
                spanId: hex(v * 100_000 + i + 1, 8),
                parentSpanId: i % 10 === 0 ? new Uint8Array(0) : hex(v * 100_000 + i, 8),
                name: i % 10 === 0 ? 'GET /api/cart' : `SELECT shop.items ${i % 10}`,
                kind: i % 10 === 0 ? 2 : 3,
                startTimeUnixNano: 1_764_000_000_000_000_000n + BigInt(i * 1000),
                endTimeUnixNano: 1_764_000_000_000_500_000n + BigInt(i * 1000),
                attributes: [
                  { key: 'http.request.method', value: { value: { case: 'stringValue' as const, value: 'GET' } } },
                  { key: 'url.path', value: { value: { case: 'stringValue' as const, value: '/api/cart' } } },
                  { key: 'http.response.status_code', value: { value: { case: 'intValue' as const, value: 200n } } },
                  { key: 'db.system.name', value: { value: { case: 'stringValue' as const, value: 'postgresql' } } },
                  { key: 'server.address', value: { value: { case: 'stringValue' as const, value: 'db.shop.svc' } } },
                ],
                ...(i % 5 === 0 ? { events: [{ name: 'cache.miss', timeUnixNano: 1_764_000_000_000_100_000n }] } : {}),
                status: { code: 1 },
              })),
            },
          ],
        },
      ],
    };
    out.push(Buffer.from(encodeTraceRequest(init)));
  }
  return out;
}

function spawnLogged(cmd: string, argv: string[], logPath: string, env: NodeJS.ProcessEnv): ChildProcess {
  const child = spawn(cmd, argv, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const chunks: string[] = [];
  child.stdout?.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr?.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.on('exit', () => writeFileSync(logPath, chunks.join('')));
  return child;
}

async function startSink(): Promise<{ port: number; proc: ChildProcess; spans: () => Promise<number> }> {
  const proc = spawn(process.execPath, [join(HERE, 'sink.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  let buf = '';
  const waiters: Array<(line: string) => void> = [];
  proc.stdout.on('data', (c: Buffer) => {
    buf += c.toString();
    let nl;
    while ((nl = buf.indexOf('\n')) !== -1) {
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      waiters.shift()?.(line);
    }
  });
  const next = (): Promise<string> => new Promise((r) => waiters.push(r));
  const port = Number(await next());
  return {
    port,
    proc,
    spans: async () => {
      const p = next();
      proc.kill('SIGUSR2');
      return Number((await p).split(' ')[1]);
    },
  };
}

async function waitForPort(port: number, proc: ChildProcess, what: string): Promise<void> {
  const { connect } = await import('node:net');
  for (let i = 0; i < 600; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before listening`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not listen on ${port}`);
}

interface LoadResult {
  requests: number;
  errors: number;
  firstError: string | undefined;
}

/** Keeps STREAMS requests in flight over CONNECTIONS connections from CLIENT_IP until `stopAt`. */
async function drive(port: number, bodies: readonly Buffer[], stopAt: number, counter: LoadResult): Promise<void> {
  const clients = Array.from({ length: CONNECTIONS }, () => createRawGrpcClient(port, '127.0.0.1', { localAddress: CLIENT_IP }));
  let n = 0;
  await Promise.all(
    Array.from({ length: STREAMS }, async (_, s) => {
      const client = clients[s % CONNECTIONS]!;
      while (Date.now() < stopAt) {
        const r = await client.exportTraces(bodies[n++ % bodies.length]!).catch((err: unknown) => ({ code: -1, message: String(err) }));
        if (r.code === 0) counter.requests++;
        else {
          counter.errors++;
          counter.firstError ??= `${r.code} ${r.message}`;
          await new Promise((res) => setTimeout(res, 10));
        }
      }
    }),
  );
  for (const c of clients) c.close();
}

interface Measured {
  name: string;
  spansPerSecond: number;
  cpuSeconds: number;
  spansPerCpuSecond: number;
  rssMiB: number;
  errors: number;
  delivered: number;
  enriched: boolean;
}

async function measure(name: string, proc: ChildProcess, port: number, bodies: readonly Buffer[], sink: { spans: () => Promise<number> }): Promise<Measured> {
  const pid = proc.pid!;
  log(`${name}: warm-up ${WARMUP}s`);
  await drive(port, bodies, Date.now() + WARMUP * 1000, { requests: 0, errors: 0, firstError: undefined });
  const sinkBefore = await sink.spans();
  const cpu0 = await cpuSeconds(pid);
  const t0 = Date.now();
  const counter: LoadResult = { requests: 0, errors: 0, firstError: undefined };
  log(`${name}: measuring ${SECONDS}s`);
  await drive(port, bodies, t0 + SECONDS * 1000, counter);
  const elapsed = (Date.now() - t0) / 1000;
  const cpu = (await cpuSeconds(pid)) - cpu0;
  const rss = await rssMiB(pid);
  // Spans the server acknowledged in the window; the sink confirms they were delivered.
  await new Promise((r) => setTimeout(r, 1500));
  const delivered = (await sink.spans()) - sinkBefore;
  if (counter.errors > 0) log(`${name}: ${counter.errors} errors, first: ${counter.firstError}`);
  const spans = counter.requests * SPANS;
  return { name, spansPerSecond: spans / elapsed, cpuSeconds: cpu, spansPerCpuSecond: spans / cpu, rssMiB: rss, errors: counter.errors, delivered, enriched: true };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await done;
  clearTimeout(t);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'sextant-bench-traces-'));
  let cluster: Cluster | undefined;
  const children: ChildProcess[] = [];
  try {
    log('starting kube-apiserver + etcd');
    cluster = await startCluster();
    await cluster.createNamespace('shop');
    const api = cluster.adminClient.makeApiClient(CoreV1Api);
    log(`registering ${PODS} running pods`);
    const ips: string[] = [];
    for (let i = 0; i < PODS; i++) ips.push(i === 0 ? CLIENT_IP : `10.${Math.floor(i / 250)}.${i % 250}.9`);
    for (let i = 0; i < PODS; i += 20) {
      await Promise.all(
        ips.slice(i, i + 20).map(async (ip, j) => {
          const name = `checkout-6d4f8b7c9-${String(i + j).padStart(5, '0')}`;
          const created = await api.createNamespacedPod({
            namespace: 'shop',
            body: {
              metadata: { name, labels: { app: 'checkout', 'pod-template-hash': '6d4f8b7c9' }, ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'checkout-6d4f8b7c9', uid: '0e7c3c7e-0000-4000-8000-000000000001', controller: true }] },
              spec: { nodeName: 'node-1', containers: [{ name: 'app', image: 'registry.example/checkout:2.1.0' }] },
            },
          });
          await api.replaceNamespacedPodStatus({ namespace: 'shop', name, body: { ...created, status: { phase: 'Running', podIP: ip, podIPs: [{ ip }], startTime: new Date() } } });
        }),
      );
    }
    const bodies = encodeLoad(16);
    log(`load: ${bodies.length} pre-encoded requests of ${SPANS} spans, ${bodies[0]!.length} bytes each; ${STREAMS} streams over ${CONNECTIONS} connections from ${CLIENT_IP}`);

    const sink = await startSink();
    children.push(sink.proc);

    const runSextant = async (): Promise<Measured> => {
      const sextantPort = await freePort();
      const telemetryPort = await freePort();
      const sextantConfig = join(dir, 'sextant.yaml');
      writeFileSync(
        sextantConfig,
        toYaml({
          grpc: { host: '127.0.0.1', port: sextantPort },
          http: { enabled: false },
          telemetry: { host: '127.0.0.1', port: telemetryPort },
          kube: { source: 'kubeconfig', path: cluster!.kubeconfigPath },
          exporter: { type: 'otlp_grpc', endpoint: `http://127.0.0.1:${sink.port}`, compression: 'none' },
          ...(args['export-concurrency'] === undefined ? {} : { export: { concurrency: Number(args['export-concurrency']) } }),
          log: { level: 'warn' },
          ...(JSON.parse(args['sextant-extra']) as Record<string, unknown>),
        }),
      );
      const prof = args.profile === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${args.profile}`];
      const flags = args['node-flags'] === '' ? [] : args['node-flags'].split(' ');
      const sextant = spawnLogged(process.execPath, [...flags, ...prof, args['sextant-entry'] ?? join(ROOT, 'packages/trace-receiver/src/main.ts'), '--config', sextantConfig], join(dir, 'sextant.log'), process.env);
      children.push(sextant);
      await waitForPort(sextantPort, sextant, 'sextant trace receiver');
      await new Promise((r) => setTimeout(r, 2000)); // metadata sync
      const m = await measure('sextant', sextant, sextantPort, bodies, sink);
      const text = await (await fetch(`http://127.0.0.1:${telemetryPort}/metrics`)).text();
      const gauge = (name: string): number => Number(new RegExp(`^sextant_traces_${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
      const assoc = /^sextant_traces_resources_total\{by="(\w+)"\} (\S+)$/gm;
      log(`sextant: ${gauge('exported_requests')} requests in ${gauge('export_batches')} exports; resources by ${[...text.matchAll(assoc)].map((x) => `${x[1]}=${x[2]}`).join(' ')}`);
      await stop(sextant);
      return m;
    };
    const runOtelcol = async (): Promise<Measured> => {
      const otelPort = await freePort();
      const otelConfig = join(dir, 'otelcol.yaml');
      writeFileSync(
        otelConfig,
        toYaml({
          receivers: { otlp: { protocols: { grpc: { endpoint: `127.0.0.1:${otelPort}`, max_recv_msg_size_mib: 16 } } } },
          processors: {
            k8s_attributes: {
              auth_type: 'kubeConfig',
              passthrough: false,
              extract: { metadata: ['k8s.namespace.name', 'k8s.pod.name', 'k8s.pod.uid', 'k8s.pod.start_time', 'k8s.node.name', 'k8s.deployment.name', 'k8s.replicaset.name', 'container.image.name', 'container.image.tag'] },
              pod_association: [{ sources: [{ from: 'resource_attribute', name: 'k8s.pod.ip' }] }, { sources: [{ from: 'resource_attribute', name: 'k8s.pod.uid' }] }, { sources: [{ from: 'connection' }] }],
            },
          },
          // No sending queue: like Sextant without its durable queue, the client's request is
          // answered after the export, so backpressure reaches the client instead of "sending
          // queue is full" refusals of spans the collector already processed.
          exporters: { otlp_grpc: { endpoint: `127.0.0.1:${sink.port}`, tls: { insecure: true }, compression: 'none', sending_queue: { enabled: false } } },
          service: {
            telemetry: { metrics: { level: 'none' }, logs: { level: 'warn' } },
            pipelines: { traces: { receivers: ['otlp'], processors: ['k8s_attributes'], exporters: ['otlp_grpc'] } },
          },
        }),
      );
      const otel = spawnLogged(await otelcolBin(), [`--config=file:${otelConfig}`], join(dir, 'otelcol.log'), { ...process.env, KUBECONFIG: cluster!.kubeconfigPath });
      children.push(otel);
      await waitForPort(otelPort, otel, 'otelcol');
      await new Promise((r) => setTimeout(r, 3000)); // informer sync
      const m = await measure('otelcol', otel, otelPort, bodies, sink);
      await stop(otel);
      return m;
    };
    // Rounds alternate the two servers, so a noisy neighbour hits both alike; the median counts.
    const oursAll: Measured[] = [];
    const theirsAll: Measured[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      if (args.only !== 'otelcol') oursAll.push(await runSextant());
      if (args.only !== 'sextant') theirsAll.push(await runOtelcol());
    }
    const median = (ms: Measured[]): Measured | undefined => [...ms].sort((x, y) => x.spansPerCpuSecond - y.spansPerCpuSecond)[Math.floor(ms.length / 2)];
    const ours = median(oursAll);
    const theirs = median(theirsAll);
    const row = (m: Measured): string =>
      `| ${m.name} | ${Math.round(m.spansPerSecond).toLocaleString('en-US')} | ${m.cpuSeconds.toFixed(2)} | ${Math.round(m.spansPerCpuSecond).toLocaleString('en-US')} | ${Math.round(m.rssMiB)} | ${m.delivered.toLocaleString('en-US')} | ${m.errors} |`;
    const out = [
      '',
      `shape ${args.spans === undefined ? args.shape : 'custom'}: ${SPANS} spans/request (${bodies[0]!.length} B), ${STREAMS} streams / ${CONNECTIONS} connections, ${SECONDS}s after ${WARMUP}s warm-up, ${PODS} pods, association by connection address`,
      '',
      '| server | spans/s | CPU s | spans per CPU-second | RSS MiB | delivered to sink in window | errors |',
      '|---|---|---|---|---|---|---|',
      ...[...oursAll, ...theirsAll].map((m, i) => row(m).replace(/^\| (\w+)/, `| $1 (run ${(i % ROUNDS) + 1})`)),
      '',
      'median:',
      '',
      ...[ours, theirs].filter((m) => m !== undefined).map(row),
      '',
      ours !== undefined && theirs !== undefined
        ? `ratio (sextant / otelcol, spans per CPU-second): ${(ours.spansPerCpuSecond / theirs.spansPerCpuSecond).toFixed(2)}x  (goal >= 1.5x)`
        : '',
      '',
    ];
    process.stdout.write(out.join('\n'));
  } finally {
    for (const c of children.reverse()) await stop(c).catch(() => {});
    if (args.logs !== undefined) {
      mkdirSync(args.logs, { recursive: true });
      for (const f of ['sextant.log', 'otelcol.log']) if (existsSync(join(dir, f))) copyFileSync(join(dir, f), join(args.logs, f));
    }
    await cluster?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
