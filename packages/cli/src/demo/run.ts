// `sextant demo`: the whole pipeline on this machine, with no cluster.
//
//   generator ─CRI files─► node-collector (+ host metrics from /proc, /sys) ─OTLP/HTTP─► enrichment ─OTLP/HTTP─► backend (OTLP/JSON files)
//   demo app (sdk-node) ─OTLP gRPC─► trace-receiver ─OTLP/HTTP─────────────────┘
//   metadata: enrichment and trace-receiver read demo-data/objects.yaml (kube-metadata's file source)
//
// Each component is its own process started from its main.ts with a generated config file, on
// free loopback ports, exactly as the chart runs it; the demo only writes the files a kubelet would
// write and plays the backend. Start order is downstream first; stop order is upstream first:
// generator and app, then the collector (after it read every line), then enrichment (after its
// queue drained to the backend), then the trace receiver, then the backend.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { createDemoBackend } from './backend.ts';
import { startChild } from './children.ts';
import type { Child } from './children.ts';
import { createLogGenerator } from './generator.ts';
import type { GeneratorStats } from './generator.ts';
import { demoObjectsPath, loadDemoPods } from './objects.ts';
import { isReady, scrape, sum } from './scrape.ts';
import { createTtyPainter, renderLine, renderTable } from './summary.ts';
import type { Snapshot } from './summary.ts';

export interface DemoOptions {
  /** Stop after this many seconds; undefined = run until SIGINT/SIGTERM. */
  durationS: number | undefined;
  /** CRI log records per second, over all demo containers. */
  rate: number;
  /** Output directory (created; must be empty if it exists). */
  out: string;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Redraw a table in place (stdout is a terminal) instead of printing plain lines. */
  tty: boolean;
}

const NODE_NAME = 'demo-node';
const CLUSTER_NAME = 'sextant-demo';

function entryOf(pkg: string): string {
  // Each component package exports src/index.ts; its process entry is src/main.ts beside it.
  return join(dirname(fileURLToPath(import.meta.resolve(pkg))), 'main.ts');
}

/** The environment of a child: ours without SEXTANT_*, OTEL_* and the downward-API names, which would override the generated configs. */
function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('SEXTANT_') || k.startsWith('OTEL_') || k === 'NODE_NAME' || k === 'POD_NAME' || k === 'POD_NAMESPACE') continue;
    env[k] = v;
  }
  // Node's compile cache makes every start after the first one much faster (the TypeScript sources are stripped once)
  return { NODE_COMPILE_CACHE: join(tmpdir(), 'sextant-node-compile-cache'), ...env, ...extra };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function waitFor(what: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (await what()) return true;
    if (Date.now() > until) return false;
    await sleep(100);
  }
}

interface AttrJson { key: string; value?: Record<string, unknown> }

function flatAttrs(attrs: readonly AttrJson[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of attrs ?? []) {
    const v = a.value ?? {};
    out[a.key] = v['stringValue'] ?? v['intValue'] ?? v['boolValue'] ?? v['doubleValue'] ?? v;
  }
  return out;
}

const SHOWN = /^(k8s\.|service\.|container\.|cloud\.|log\.)/;

/** The resource attributes worth showing; the SDK's process and host details are summarised. */
function shownResource(all: Record<string, unknown>): Record<string, unknown> {
  const shown = Object.fromEntries(Object.entries(all).filter(([k]) => SHOWN.test(k)));
  const rest = Object.keys(all).length - Object.keys(shown).length;
  return rest > 0 ? { ...shown, '…': `${rest} more (process.*, host.*, telemetry.sdk.*, …)` } : shown;
}

/** The first record of `signal`'s output whose resource got workload metadata, flattened for printing. */
async function firstEnriched(file: string, signal: 'logs' | 'traces'): Promise<Record<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return undefined;
  }
  for (const line of text.split('\n')) {
    if (line === '') continue;
    const req = JSON.parse(line) as Record<string, Array<{ resource?: { attributes?: AttrJson[] }; scopeLogs?: Array<{ logRecords?: Array<Record<string, unknown>> }>; scopeSpans?: Array<{ spans?: Array<Record<string, unknown>> }> }>>;
    for (const r of req[signal === 'logs' ? 'resourceLogs' : 'resourceSpans'] ?? []) {
      const resource = flatAttrs(r.resource?.attributes);
      if (resource['k8s.deployment.name'] === undefined && resource['k8s.cronjob.name'] === undefined) continue;
      if (signal === 'logs') {
        const rec = r.scopeLogs?.[0]?.logRecords?.[0];
        if (rec === undefined) continue;
        return { resource: shownResource(resource), timeUnixNano: rec['timeUnixNano'], body: (rec['body'] as { stringValue?: string } | undefined)?.stringValue, attributes: flatAttrs(rec['attributes'] as AttrJson[] | undefined) };
      }
      const span = r.scopeSpans?.[0]?.spans?.[0];
      if (span === undefined) continue;
      return { resource: shownResource(resource), name: span['name'], traceId: span['traceId'], spanId: span['spanId'], kind: span['kind'], attributes: flatAttrs(span['attributes'] as AttrJson[] | undefined) };
    }
  }
  return undefined;
}

export async function runDemo(o: DemoOptions): Promise<number> {
  const started = Date.now();
  let runningSince = started;
  const out = o.out;
  const state = join(out, 'state');
  const podsRoot = join(out, 'pods');
  const logDir = join(state, 'logs');
  for (const d of [out, state, podsRoot, logDir, join(state, 'queue'), join(state, 'checkpoints')]) await mkdir(d, { recursive: true });
  const pods = await loadDemoPods();

  const children: Child[] = [];
  const killAll = (): void => {
    for (const c of children) c.kill();
  };
  process.on('exit', killAll);

  let stopRequested: (reason: string) => void = () => undefined;
  const stopSignal = new Promise<string>((resolve) => (stopRequested = resolve));
  let signals = 0;
  const onSignal = (sig: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      stopRequested(sig);
      return;
    }
    // a second Ctrl-C: stop at once
    o.stderr(`\nsextant demo: ${sig} again, killing the components\n`);
    killAll();
    process.exit(130);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const backend = createDemoBackend(out);
  let collectorPort: number | undefined;
  let enrichmentPort: number | undefined;
  let tracesTelemetryPort: number | undefined;
  let spansSent = 0;
  let generator: ReturnType<typeof createLogGenerator> | undefined;
  let exitCode = 0;
  let genStats: GeneratorStats | undefined;

  const snapshot = async (): Promise<Snapshot> => {
    const [c, e, t] = await Promise.all([scrape(collectorPort), scrape(enrichmentPort), scrape(tracesTelemetryPort)]);
    const g = generator?.stats();
    const b = backend.counts();
    const en = (name: string, where: Record<string, string> = {}): number => sum(e, `sextant_enrichment_${name}`, where);
    return {
      elapsedS: Math.round((Date.now() - runningSince) / 1000),
      linesWritten: g?.lines ?? 0,
      recordsWritten: g?.records ?? 0,
      rotations: g?.rotations ?? 0,
      collectorRecords: sum(c, 'sextant_node_collector_records_total'),
      batchesAcked: sum(c, 'sextant_node_collector_batches_total', { result: 'ok' }),
      batchesRetried: sum(c, 'sextant_node_collector_batches_total', { result: 'retryable' }),
      enrichedRecords: en('enriched_records_total', { signal: 'logs' }),
      receivedRecords: en('received_records_total', { signal: 'logs' }),
      metricPoints: sum(c, 'sextant_node_collector_metric_points_total', { source: 'host' }),
      queueDepth: en('queue_depth'),
      misses: en('metadata_misses_total', { reason: 'not_found_after_wait' }) + en('metadata_misses_total', { reason: 'not_synced' }),
      spansSent,
      spansReceived: sum(t, 'sextant_traces_received_spans_total'),
      backendLogs: b.logs,
      backendMetrics: b.metrics,
      backendSpans: b.spans,
    };
  };

  let ticker: NodeJS.Timeout | undefined;
  try {
    // downstream first: backend, enrichment, trace receiver, collector; then the sources
    const backendPort = await backend.start();
    const backendUrl = `http://127.0.0.1:${backendPort}`;
    const configDir = join(state, 'config');
    await mkdir(configDir, { recursive: true });

    const enrichmentConfig = join(configDir, 'enrichment.yaml');
    await writeFile(enrichmentConfig, stringify({
      listen: { host: '127.0.0.1', port: 0 },
      metadata: {
        source: 'file',
        path: demoObjectsPath,
        clusterName: CLUSTER_NAME,
        informers: { nodes: true },
        rules: [
          { from: 'pod', source: 'label', keyRegex: '(.*)', tagName: 'k8s.pod.label.$1' },
          { from: 'namespace', source: 'label', keyRegex: '(.*)', tagName: 'k8s.namespace.label.$1' },
          { from: 'node', source: 'label', key: 'topology.kubernetes.io/zone', tagName: 'cloud.availability_zone' },
        ],
      },
      queue: { dir: join(state, 'queue'), maxBytes: '256Mi' },
      exporter: { protocol: 'otlp_http', endpoint: backendUrl, compression: 'none' },
      export: { initialBackoff: '100ms', maxBackoff: '2s' },
      log: { level: 'info' },
    }));
    // enrichment and the trace receiver depend only on the backend: start them side by side
    const enrichmentStart = startChild({
      name: 'enrichment',
      args: [entryOf('@sextant/enrichment'), '--config', enrichmentConfig],
      env: childEnv({}),
      logDir,
      ready: (l) => (l['msg'] === 'enrichment service listening' ? (l['address'] as { port: number }).port : undefined),
    });
    const tracesConfig = join(configDir, 'trace-receiver.yaml');
    await writeFile(tracesConfig, stringify({
      grpc: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      telemetry: { host: '127.0.0.1', port: 0 },
      kube: { source: 'file', path: demoObjectsPath, clusterName: CLUSTER_NAME },
      exporter: { type: 'otlp_http', endpoint: backendUrl, compression: 'none' },
      log: { level: 'info' },
    }));
    const tracesStart = startChild({
      name: 'trace-receiver',
      args: [entryOf('@sextant/trace-receiver'), '--config', tracesConfig],
      env: childEnv({}),
      logDir,
      ready: (l) => (l['msg'] === 'trace receiver started' ? { grpc: l['grpcPort'] as number, telemetry: l['telemetryPort'] as number } : undefined),
    });
    const [enrichmentR, tracesR] = await Promise.allSettled([enrichmentStart, tracesStart]);
    for (const r of [enrichmentR, tracesR]) if (r.status === 'fulfilled') children.push(r.value.child);
    if (enrichmentR.status === 'rejected') throw enrichmentR.reason as Error;
    if (tracesR.status === 'rejected') throw tracesR.reason as Error;
    const enrichment = enrichmentR.value;
    const traces = tracesR.value;
    enrichmentPort = enrichment.info;
    tracesTelemetryPort = traces.info.telemetry;
    const ep = enrichmentPort;
    const tp = tracesTelemetryPort;
    if (!(await waitFor(() => isReady(ep), 30_000))) throw new Error(`enrichment did not become ready; see ${enrichment.child.logFile}`);
    if (!(await waitFor(() => isReady(tp), 30_000))) throw new Error(`trace-receiver did not become ready; see ${traces.child.logFile}`);

    const collectorConfig = join(configDir, 'node-collector.yaml');
    await writeFile(collectorConfig, stringify({
      log_root: podsRoot,
      node_name: NODE_NAME,
      checkpoint_dir: join(state, 'checkpoints'),
      endpoints: [`127.0.0.1:${enrichmentPort}`],
      server: { host: '127.0.0.1', port: 0 },
      // host metrics of this machine, read from /proc and /sys as the DaemonSet reads the node's
      metrics: { interval_seconds: 2, host: { proc_root: '/proc', sys_root: '/sys', rootfs: '/' }, kubelet: false },
    }));
    const collector = await startChild({
      name: 'node-collector',
      args: [entryOf('@sextant/node-collector'), collectorConfig],
      env: childEnv({}),
      logDir,
      ready: (l) => (l['msg'] === 'sextant-node-collector-ready' ? (l['statusPort'] as number) : undefined),
    });
    children.push(collector.child);
    collectorPort = collector.info;

    // the sources: kubelet-style log files and the instrumented app
    generator = createLogGenerator({ root: podsRoot, pods, rate: o.rate });
    await generator.start();
    const appPod = pods.find((p) => p.name.startsWith('checkout-')) ?? pods[0];
    const app = await startChild({
      name: 'demo-app',
      args: [fileURLToPath(new URL('./app.ts', import.meta.url))],
      env: childEnv({
        DEMO_TRACES_ENDPOINT: `http://127.0.0.1:${traces.info.grpc}`,
        // what the Downward API gives a pod: its UID; the receiver adds everything else
        OTEL_RESOURCE_ATTRIBUTES: `k8s.pod.uid=${appPod?.uid ?? ''},k8s.container.name=${appPod?.containers[0] ?? ''}`,
        OTEL_BSP_SCHEDULE_DELAY: '500',
      }),
      logDir,
      ready: (l) => (l['msg'] === 'demo-app-ready' ? true : undefined),
      onLine: (l) => {
        if (typeof l['spans'] === 'number') spansSent = l['spans'];
      },
    });
    children.push(app.child);

    // the live summary
    const painter = createTtyPainter(o.stdout);
    let prev: Snapshot | undefined;
    let drawing = false;
    const draw = async (): Promise<void> => {
      if (drawing) return;
      drawing = true;
      try {
        const s = await snapshot();
        if (o.tty) painter.paint(renderTable(s, prev, out));
        else o.stdout(renderLine(s));
        prev = s;
      } finally {
        drawing = false;
      }
    };
    runningSince = Date.now();
    o.stdout(`sextant demo: pipeline running after ${((runningSince - started) / 1000).toFixed(1)} s (output in ${out})\n`);
    ticker = setInterval(() => void draw(), 1000);
    const timeout = o.durationS === undefined ? undefined : sleep(o.durationS * 1000).then(() => 'duration');
    const why = await Promise.race(timeout === undefined ? [stopSignal] : [stopSignal, timeout]);
    clearInterval(ticker);
    ticker = undefined;
    o.stdout(`${o.tty ? '' : '\n'}sextant demo: stopping (${why}): sources, then collector, enrichment, trace-receiver\n`);

    // upstream first
    genStats = await generator.stop();
    await app.child.stop(10_000);
    // the collector stops reading at SIGTERM, so let it read every line first
    const cp = collectorPort;
    const total = genStats.records;
    const caughtUp = await waitFor(async () => {
      const c = await scrape(cp);
      return sum(c, 'sextant_node_collector_records_total') >= total && sum(c, 'sextant_node_collector_inflight_bytes') === 0;
    }, 20_000);
    if (!caughtUp) o.stderr('sextant demo: the collector had not read and shipped every line after 20 s; stopping it anyway\n');
    await collector.child.stop(20_000);
    // enrichment's shutdown keeps undelivered batches in its queue for the next start; the demo
    // has no next start, so it waits for the queue to drain to the backend first
    const drained = await waitFor(async () => sum(await scrape(ep), 'sextant_enrichment_queue_depth') === 0, 20_000);
    if (!drained) o.stderr('sextant demo: the enrichment queue had not drained after 20 s; stopping it anyway\n');
    await enrichment.child.stop(30_000);
    await traces.child.stop(20_000);
  } catch (err) {
    exitCode = 1;
    o.stderr(`sextant demo: ${(err as Error).message}\n`);
  } finally {
    if (ticker !== undefined) clearInterval(ticker);
    if (genStats === undefined && generator !== undefined) genStats = await generator.stop().catch(() => undefined);
    await Promise.all(children.map((c) => c.stop(10_000)));
    await backend.shutdown();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('exit', killAll);
  }

  // what was written and what arrived, for people and for the acceptance test
  const b = backend.counts();
  const report = {
    generated: genStats ?? null,
    spansSentByApp: spansSent,
    backend: b,
    files: { logs: backend.fileOf('logs'), metrics: backend.fileOf('metrics'), traces: backend.fileOf('traces') },
    processes: children.map((c) => ({ name: c.name, pid: c.pid })),
  };
  await writeFile(join(out, 'demo-report.json'), `${JSON.stringify(report, null, 2)}\n`);

  const log = await firstEnriched(backend.fileOf('logs'), 'logs');
  const span = await firstEnriched(backend.fileOf('traces'), 'traces');
  o.stdout(`\nOne enriched log record:\n${log === undefined ? '  (none arrived)' : JSON.stringify(log, null, 2)}\n`);
  o.stdout(`\nOne enriched span:\n${span === undefined ? '  (none arrived)' : JSON.stringify(span, null, 2)}\n`);
  const missing = (genStats?.records ?? 0) - b.logs;
  o.stdout(
    `\nLog records written ${genStats?.records ?? 0}, arrived at the backend ${b.logs}` +
      `${missing > 0 ? ` (${missing} missing)` : missing < 0 ? ` (${-missing} duplicates)` : ' (all of them)'}; ` +
      `metric points ${b.metrics}; spans sent ${spansSent}, arrived ${b.spans}.\n`,
  );
  const names = (await readdir(out)).sort();
  o.stdout(
    `\nOutput is in ${out}:\n` +
      `  logs.jsonl, metrics.jsonl, traces.jsonl  what the backend received: one OTLP/JSON Export*ServiceRequest per line\n` +
      `  demo-report.json                          records written per container, counts at the backend\n` +
      `  pods/                                     the CRI log files, laid out as kubelet does (/var/log/pods)\n` +
      `  state/                                    component configs, logs, durable queue, checkpoints\n` +
      `  (${names.join(', ')})\n`,
  );
  return exitCode;
}
