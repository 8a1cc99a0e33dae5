// OTLP codec benchmark: @sextant/otlp against @opentelemetry/otlp-transformer on the same data.
// Run: `pnpm bench:otlp` (or `node bench/otlp/run.ts [--quick]`). Prints one table; see bench/README.md.
//
// What each row measures (per batch of N records, one resource, one scope):
//   encode  ours:     encodeXRequest(message object)            → protobuf bytes (generated @bufbuild code)
//           upstream: ProtobufXSerializer.serializeRequest(SDK objects) → protobuf bytes
//   decode  ours:     decodeXRequest(bytes) → message objects (wire validation + @bufbuild decode)
//           upstream: none (otlp-transformer cannot decode requests); the row shows ours only
//   splice  ours:     rewriteResources(bytes, fn adding 8 k8s.* string attributes) → new bytes
//           baseline: decodeXRequest(bytes) + add the same 8 attributes + encodeXRequest → new bytes
//                     (the only other way to change resource attributes of protobuf bytes)
//   direct  ours:     createLogsEncoder(): beginResource + beginScope + N × addRecord(Buffer body) + finish
//           upstream: ProtobufLogsSerializer.serializeRequest(N SDK log records)
import os from 'node:os';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { HrTime } from '@opentelemetry/api';
import { ProtobufLogsSerializer, ProtobufMetricsSerializer, ProtobufTraceSerializer } from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import type { ReadableLogRecord } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ResourceMetrics as SdkResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import {
  countRecords,
  createLogsEncoder,
  decodeLogsRequest,
  decodeMetricsRequest,
  decodeTraceRequest,
  encodeLogsRequest,
  encodeMetricsRequest,
  encodeTraceRequest,
  keyValueToMessage,
  rewriteResources,
  stringKv,
} from '@sextant/otlp';
import type { KeyValue, LogRecordInput, Signal } from '@sextant/otlp';

const quick = process.argv.includes('--quick');
const TARGET_MS = quick ? 100 : 250;
const ROUNDS = quick ? 1 : 3;

const resource = resourceFromAttributes({
  'service.name': 'checkout',
  'k8s.namespace.name': 'shop',
  'k8s.pod.name': 'checkout-7d9f8b6c5-x2x4z',
  'k8s.container.name': 'app',
  'log.file.path': '/var/log/pods/shop_checkout-7d9f8b6c5-x2x4z_0d1b/app/0.log',
});

const enrichment: KeyValue[] = [
  stringKv('k8s.pod.uid', '0d1b5a4e-9c1f-4b8e-8d7a-1f2e3d4c5b6a'),
  stringKv('k8s.node.name', 'node-17.eu-west-1.compute.internal'),
  stringKv('k8s.deployment.name', 'checkout'),
  stringKv('k8s.replicaset.name', 'checkout-7d9f8b6c5'),
  stringKv('k8s.cluster.name', 'prod-eu-1'),
  stringKv('container.image.name', 'registry.example.com/shop/checkout'),
  stringKv('container.image.tag', '2026.11.3'),
  stringKv('k8s.pod.ip', '10.42.17.93'),
];
const enrichmentMsgs = enrichment.map(keyValueToMessage);

function line(i: number): string {
  // ~200 B container log line, like LESSONS.md's measurements
  return `2026-11-24T06:00:00.${String(i % 1000).padStart(3, '0')}Z INFO checkout request handled path=/api/cart/${i} status=200 duration_ms=${i % 97} user=u-${i % 5000} trace=0af7651916cd43dd8448eb211c80319c padding=${'x'.repeat(60)}`;
}

async function sdkLogs(n: number): Promise<ReadableLogRecord[]> {
  const exporter = new InMemoryLogRecordExporter();
  const provider = new LoggerProvider({ resource, processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = provider.getLogger('sextant.node-collector', '0.1.0');
  for (let i = 0; i < n; i++) {
    logger.emit({
      timestamp: [1_764_000_000, i],
      observedTimestamp: [1_764_000_000, i + 1000],
      severityNumber: 9,
      severityText: 'INFO',
      body: line(i),
      attributes: { 'log.iostream': i % 2 ? 'stdout' : 'stderr' },
    });
  }
  await provider.forceFlush();
  return exporter.getFinishedLogRecords();
}

async function sdkSpans(n: number): Promise<ReadableSpan[]> {
  const exporter = new InMemorySpanExporter();
  const provider = new TracerProvider({ resource, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const tracer = provider.getTracer('checkout', '1.0.0');
  const root = tracer.startSpan('POST /api/cart', { kind: SpanKind.SERVER, startTime: [1_764_000_000, 0] });
  const ctx = trace.setSpan(ROOT_CONTEXT, root);
  for (let i = 0; i < n - 1; i++) {
    const s = tracer.startSpan(
      `db.query ${i % 10}`,
      {
        kind: SpanKind.CLIENT,
        startTime: [1_764_000_000, i * 1000],
        attributes: { 'db.system': 'postgresql', 'db.statement': `SELECT * FROM items WHERE id = ${i}`, 'net.peer.port': 5432 },
        links: i % 10 === 0 ? [{ context: { traceId: '11111111111111111111111111111111', spanId: '2222222222222222', traceFlags: TraceFlags.SAMPLED } }] : [],
      },
      ctx,
    );
    if (i % 5 === 0) s.addEvent('retry', { attempt: 1 }, [1_764_000_000, i * 1000 + 5]);
    if (i % 50 === 0) s.setStatus({ code: SpanStatusCode.ERROR, message: 'timeout' });
    s.end([1_764_000_000, i * 1000 + 900] as HrTime);
  }
  root.end([1_764_000_001, 0]);
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}

class CollectingReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

/** N data points: counters, gauges and histograms spread over attribute sets. */
async function sdkMetrics(n: number): Promise<SdkResourceMetrics> {
  const reader = new CollectingReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  const provider = new MeterProvider({ resource, readers: [reader] });
  const meter = provider.getMeter('kubelet', '1.0.0');
  const perInstrument = Math.ceil(n / 4);
  const counter = meter.createCounter('http.server.requests');
  const gauge = meter.createGauge('container.memory.usage', { unit: 'By' });
  const updown = meter.createUpDownCounter('queue.depth');
  const hist = meter.createHistogram('http.server.duration', { unit: 'ms' });
  let made = 0;
  for (let i = 0; i < perInstrument && made < n; i++) {
    const attrs = { 'k8s.pod.name': `pod-${i}`, route: `/r/${i % 20}` };
    counter.add(i + 1, attrs);
    if (++made < n) gauge.record(i * 1024, attrs);
    if (++made < n) updown.add(-i, attrs);
    if (++made < n) hist.record(i % 300, attrs);
    made++;
  }
  const { resourceMetrics } = await reader.collect();
  return resourceMetrics;
}

interface Row {
  signal: string;
  op: string;
  batch: number;
  bytes: number;
  oursUs: number;
  upstreamUs: number | undefined;
  upstreamLabel: string;
}

/** Best of ROUNDS runs, alternating the two paths so both see the same machine load. */
function pair(a: () => unknown, b: (() => unknown) | undefined): [number, number | undefined] {
  let bestA = Infinity;
  let bestB = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    bestA = Math.min(bestA, measureOnce(a));
    if (b) bestB = Math.min(bestB, measureOnce(b));
  }
  return [bestA, b ? bestB : undefined];
}

/**
 * Microseconds of process CPU time (user + system, all threads incl. GC) per call, after a warm-up.
 * CPU time rather than wall time, so figures stay comparable on a shared, loaded machine
 * ("per CPU-second", as in ARCHITECTURE.md).
 */
function measureOnce(fn: () => unknown): number {
  const warmEnd = performance.now() + TARGET_MS / 4;
  while (performance.now() < warmEnd) fn();
  let iters = 0;
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - wallStart < TARGET_MS || iters < 20) {
    for (let i = 0; i < 10; i++) fn();
    iters += 10;
  }
  const cpu = process.cpuUsage(cpuStart);
  return (cpu.user + cpu.system) / iters;
}

const rows: Row[] = [];

async function benchSignal(signal: Signal, batch: number): Promise<void> {
  let upstreamEncode: () => Uint8Array;
  let decode: (b: Uint8Array) => unknown;
  let encode: (m: never) => Uint8Array;
  let addAttrs: (m: never) => void;
  if (signal === 'logs') {
    const recs = await sdkLogs(batch);
    upstreamEncode = () => ProtobufLogsSerializer.serializeRequest(recs)!;
    decode = decodeLogsRequest;
    encode = encodeLogsRequest;
    addAttrs = ((m: ReturnType<typeof decodeLogsRequest>) => {
      for (const rl of m.resourceLogs) rl.resource?.attributes.push(...enrichmentMsgs);
    });
  } else if (signal === 'traces') {
    const spans = await sdkSpans(batch);
    upstreamEncode = () => ProtobufTraceSerializer.serializeRequest(spans)!;
    decode = decodeTraceRequest;
    encode = encodeTraceRequest;
    addAttrs = ((m: ReturnType<typeof decodeTraceRequest>) => {
      for (const rs of m.resourceSpans) rs.resource?.attributes.push(...enrichmentMsgs);
    });
  } else {
    const rm = await sdkMetrics(batch);
    upstreamEncode = () => ProtobufMetricsSerializer.serializeRequest(rm)!;
    decode = decodeMetricsRequest;
    encode = encodeMetricsRequest;
    addAttrs = ((m: ReturnType<typeof decodeMetricsRequest>) => {
      for (const r of m.resourceMetrics) r.resource?.attributes.push(...enrichmentMsgs);
    });
  }
  const bytes = upstreamEncode();
  const records = countRecords(bytes, signal);
  const msg = decode(bytes) as never;

  const [encUs, upEncUs] = pair(() => encode(msg), upstreamEncode);
  rows.push({ signal, op: 'encode', batch: records, bytes: bytes.length, oursUs: encUs, upstreamUs: upEncUs, upstreamLabel: 'otlp-transformer serializeRequest' });
  const [decUs] = pair(() => decode(bytes), undefined);
  rows.push({ signal, op: 'decode', batch: records, bytes: bytes.length, oursUs: decUs, upstreamUs: undefined, upstreamLabel: '(otlp-transformer has no request decoder)' });
  const [spliceUs, baselineUs] = pair(
    () => rewriteResources(bytes, signal, (attrs) => [...attrs, ...enrichment]),
    () => {
      const m = decode(bytes) as never;
      addAttrs(m);
      return encode(m);
    },
  );
  rows.push({ signal, op: 'splice', batch: records, bytes: bytes.length, oursUs: spliceUs, upstreamUs: baselineUs, upstreamLabel: 'decode + set attrs + encode' });
}

async function benchDirect(batch: number): Promise<void> {
  const recs = await sdkLogs(batch);
  const inputs: LogRecordInput[] = recs.map((r, i) => ({
    timeUnixNano: BigInt(r.hrTime[0]) * 1_000_000_000n + BigInt(r.hrTime[1]),
    observedTimeUnixNano: BigInt(r.hrTimeObserved[0]) * 1_000_000_000n + BigInt(r.hrTimeObserved[1]),
    severityNumber: 9,
    severityText: 'INFO',
    body: Buffer.from(line(i)),
    attributes: [stringKv('log.iostream', i % 2 ? 'stdout' : 'stderr')],
  }));
  const resAttrs = Object.entries(resource.attributes).map(([k, v]) => stringKv(k, String(v)));
  const enc = createLogsEncoder();
  const run = (): Uint8Array => {
    enc.beginResource(resAttrs);
    enc.beginScope('sextant.node-collector', '0.1.0');
    for (const r of inputs) enc.addRecord(r);
    return enc.finish();
  };
  const bytes = run();
  const [directUs, upUs] = pair(run, () => ProtobufLogsSerializer.serializeRequest(recs));
  rows.push({
    signal: 'logs',
    op: 'direct',
    batch,
    bytes: bytes.length,
    oursUs: directUs,
    upstreamUs: upUs,
    upstreamLabel: 'otlp-transformer serializeRequest',
  });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const batches = quick ? [1000] : [1000, 100];
  for (const batch of batches) {
    for (const signal of ['logs', 'metrics', 'traces'] as const) await benchSignal(signal, batch);
    await benchDirect(batch);
  }
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU';
  console.log(`@sextant/otlp benchmark — Node ${process.version}, ${os.cpus().length} × ${cpu}, load avg ${os.loadavg()[0]!.toFixed(1)}`);
  console.log('Per CPU-second of one thread (process CPU time incl. GC), best of ' + ROUNDS + ' alternating runs.\nMB/s counts the protobuf request size. "vs" = how many times faster ours is than the other path.\n');
  const header = ['signal', 'op', 'batch', 'req KB', 'ours rec/s', 'ours MB/s', 'other rec/s', 'other MB/s', 'vs', 'other path'];
  const table = rows.map((r) => {
    const oursRps = (r.batch / r.oursUs) * 1e6;
    const oursMBs = r.bytes / r.oursUs; // bytes per µs = MB/s
    const up = r.upstreamUs;
    return [
      r.signal,
      r.op,
      String(r.batch),
      fmt(r.bytes / 1024, 1),
      fmt(oursRps),
      fmt(oursMBs, 1),
      up === undefined ? '-' : fmt((r.batch / up) * 1e6),
      up === undefined ? '-' : fmt(r.bytes / up, 1),
      up === undefined ? '-' : `${fmt(up / r.oursUs, 1)}×`,
      r.upstreamLabel,
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i]!.length)));
  const print = (cells: string[]): void => {
    console.log(cells.map((c, i) => (i < 2 || i === cells.length - 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  '));
  };
  print(header);
  print(widths.map((w) => '-'.repeat(w)));
  for (const row of table) print(row);
  console.log(`\nencode/decode rows: "ours" uses the generated @bufbuild code; splice and direct are hand-written wire code.`);
  console.log(`finished in ${fmt((performance.now() - t0) / 1000, 1)} s`);
}

await main();
