// Acceptance 1: telemetry produced by the official OpenTelemetry JS SDKs and serialised by
// @opentelemetry/otlp-transformer (protobuf and JSON) decodes with our codec to the same content.
// The JS SDKs cannot produce metric exemplars, summaries or entity refs; upstream-go.test.ts covers
// those fields against upstream's Go definitions.
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, TraceFlags, trace } from '@opentelemetry/api';
import type { Attributes, HrTime } from '@opentelemetry/api';
import { SeverityNumber as ApiSeverity } from '@opentelemetry/api';
import {
  JsonLogsSerializer,
  JsonMetricsSerializer,
  JsonTraceSerializer,
  ProtobufLogsSerializer,
  ProtobufMetricsSerializer,
  ProtobufTraceSerializer,
} from '@opentelemetry/otlp-transformer';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { InMemoryLogRecordExporter, LoggerProvider, SimpleLogRecordProcessor } from '@opentelemetry/sdk-logs';
import { AggregationTemporality, AggregationType, DataPointType, MeterProvider, MetricReader } from '@opentelemetry/sdk-metrics';
import type { ExponentialHistogram, Histogram, ResourceMetrics as SdkResourceMetrics } from '@opentelemetry/sdk-metrics';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider } from '@opentelemetry/sdk-trace';
import {
  decodeLogsRequest,
  decodeLogsRequestJson,
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  decodeTraceRequest,
  decodeTraceRequestJson,
  encodeLogsResponse,
  encodeLogsResponseJson,
  encodeMetricsResponse,
  encodeMetricsResponseJson,
  encodeTraceResponse,
  encodeTraceResponseJson,
} from '@sextant/otlp';
import type { AnyValueMessage, KeyValueMessage } from '@sextant/otlp';

const resource = resourceFromAttributes({
  'service.name': 'interop',
  'k8s.pod.name': 'pod-1',
  'int.attr': 42,
  'double.attr': 1.25,
  'bool.attr': true,
  'array.attr': ['a', 'b'],
});

const ns = (t: HrTime): bigint => BigInt(t[0]) * 1_000_000_000n + BigInt(t[1]);

/** Our decoded AnyValue as the plain JS value the SDK started from. */
function plain(v: AnyValueMessage | undefined): unknown {
  if (v === undefined) return undefined;
  const x = v.value;
  switch (x.case) {
    case 'intValue':
      return Number(x.value);
    case 'arrayValue':
      return x.value.values.map(plain);
    case 'kvlistValue':
      return plainAttrs(x.value.values);
    case undefined:
      return null;
    default:
      return x.value;
  }
}

function plainAttrs(kvs: KeyValueMessage[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const kv of kvs) out[kv.key] = plain(kv.value);
  return out;
}

function sdkAttrs(a: Attributes): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(a)) if (v !== undefined) out[k] = v;
  return out;
}

void test('logs from the JS SDK serialised by otlp-transformer decode to the same content', async (t: TestContext) => {
  const exporter = new InMemoryLogRecordExporter();
  // a 4-attribute limit makes the SDK drop one of the 5 attributes below: covers dropped_attributes_count
  const provider = new LoggerProvider({ resource, logRecordLimits: { attributeCountLimit: 4 }, processors: [new SimpleLogRecordProcessor({ exporter })] });
  const logger = provider.getLogger('interop-scope', '1.2.3', { schemaUrl: 'https://opentelemetry.io/schemas/1.30.0' });
  const spanCtx = { traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: TraceFlags.SAMPLED };
  logger.emit({
    timestamp: [1_700_000_000, 123_456_789],
    observedTimestamp: [1_700_000_001, 5],
    severityNumber: ApiSeverity.WARN,
    severityText: 'WARN',
    body: { msg: 'hello', n: 3, d: 2.5, ok: false, list: [1, 'two', null], nested: { deep: ['x'] }, raw: new Uint8Array([0, 255, 7]) },
    attributes: { 'log.iostream': 'stdout', count: 7, ratio: 0.5, flag: true, tags: ['a', 'b'] },
    eventName: 'app.event',
    context: trace.setSpanContext(ROOT_CONTEXT, spanCtx),
  });
  logger.emit({ body: 'plain string body', severityNumber: ApiSeverity.INFO });
  await provider.forceFlush();
  const records = exporter.getFinishedLogRecords();
  t.assert.strictEqual(records.length, 2);

  const pb = ProtobufLogsSerializer.serializeRequest(records)!;
  const json = JsonLogsSerializer.serializeRequest(records)!;
  const fromPb = decodeLogsRequest(pb);
  t.assert.deepStrictEqual(decodeLogsRequestJson(json), fromPb, 'JSON and protobuf paths agree');

  const rl = fromPb.resourceLogs[0]!;
  t.assert.deepStrictEqual(plainAttrs(rl.resource!.attributes), sdkAttrs(resource.attributes));
  const sl = rl.scopeLogs[0]!;
  t.assert.strictEqual(sl.scope?.name, 'interop-scope');
  t.assert.strictEqual(sl.scope?.version, '1.2.3');
  t.assert.strictEqual(sl.schemaUrl, 'https://opentelemetry.io/schemas/1.30.0');
  const [a, b] = [sl.logRecords[0]!, sl.logRecords[1]!];
  t.assert.strictEqual(a.timeUnixNano, ns(records[0]!.hrTime));
  t.assert.strictEqual(a.observedTimeUnixNano, ns(records[0]!.hrTimeObserved));
  t.assert.strictEqual(a.severityNumber, 13);
  t.assert.strictEqual(a.severityText, 'WARN');
  t.assert.strictEqual(a.eventName, 'app.event');
  t.assert.strictEqual(Buffer.from(a.traceId).toString('hex'), spanCtx.traceId);
  t.assert.strictEqual(Buffer.from(a.spanId).toString('hex'), spanCtx.spanId);
  t.assert.strictEqual(a.flags, 1);
  t.assert.deepStrictEqual(plain(a.body), { msg: 'hello', n: 3, d: 2.5, ok: false, list: [1, 'two', null], nested: { deep: ['x'] }, raw: new Uint8Array([0, 255, 7]) });
  t.assert.deepStrictEqual(plainAttrs(a.attributes), sdkAttrs(records[0]!.attributes));
  t.assert.strictEqual(a.attributes.length, 4);
  t.assert.strictEqual(a.droppedAttributesCount, 1);
  t.assert.strictEqual(plain(b.body), 'plain string body');
  t.assert.strictEqual(b.traceId.length, 0);
});

void test('spans from the JS SDK serialised by otlp-transformer decode to the same content', async (t: TestContext) => {
  const exporter = new InMemorySpanExporter();
  // limits make the SDK drop attributes, events and links: covers the dropped_* counts
  const provider = new TracerProvider({
    resource,
    spanLimits: { attributeCountLimit: 2, eventCountLimit: 1, linkCountLimit: 1 },
    spanProcessors: [new SimpleSpanProcessor({ exporter })],
  });
  const tracer = provider.getTracer('interop-tracer', '0.1.0');
  const linked = { traceId: '11111111111111111111111111111111', spanId: '2222222222222222', traceFlags: TraceFlags.NONE, isRemote: true };
  const parent = tracer.startSpan('parent', { kind: SpanKind.SERVER, startTime: [1_700_000_000, 0] });
  const ctx = trace.setSpan(ROOT_CONTEXT, parent);
  const child = tracer.startSpan(
    'child',
    {
      kind: SpanKind.CLIENT,
      attributes: { 'http.method': 'GET', 'http.status_code': 200, sampled: true },
      links: [{ context: linked }, { context: linked, attributes: { why: 'batch' } }], // the SDK keeps the newest link
      startTime: [1_700_000_000, 500],
    },
    ctx,
  );
  child.addEvent('overflow', {}, [1_700_000_000, 600]); // the SDK drops the oldest event past the limit
  child.addEvent('retry', { attempt: 2 }, [1_700_000_000, 700]);
  child.setStatus({ code: SpanStatusCode.ERROR, message: 'boom' });
  child.end([1_700_000_001, 0]);
  parent.end([1_700_000_002, 0]);
  await provider.forceFlush();
  const spans = exporter.getFinishedSpans();
  t.assert.strictEqual(spans.length, 2);

  const pb = ProtobufTraceSerializer.serializeRequest(spans)!;
  const json = JsonTraceSerializer.serializeRequest(spans)!;
  const fromPb = decodeTraceRequest(pb);
  t.assert.deepStrictEqual(decodeTraceRequestJson(json), fromPb, 'JSON and protobuf paths agree');

  const rs = fromPb.resourceSpans[0]!;
  t.assert.deepStrictEqual(plainAttrs(rs.resource!.attributes), sdkAttrs(resource.attributes));
  const ss = rs.scopeSpans[0]!;
  t.assert.strictEqual(ss.scope?.name, 'interop-tracer');
  const byName = new Map(ss.spans.map((s) => [s.name, s]));
  for (const sdk of spans) {
    const s = byName.get(sdk.name)!;
    t.assert.strictEqual(Buffer.from(s.traceId).toString('hex'), sdk.spanContext().traceId);
    t.assert.strictEqual(Buffer.from(s.spanId).toString('hex'), sdk.spanContext().spanId);
    t.assert.strictEqual(Buffer.from(s.parentSpanId).toString('hex'), sdk.parentSpanContext?.spanId ?? '');
    t.assert.strictEqual(s.kind, sdk.kind + 1);
    t.assert.strictEqual(s.startTimeUnixNano, ns(sdk.startTime));
    t.assert.strictEqual(s.endTimeUnixNano, ns(sdk.endTime));
    t.assert.deepStrictEqual(plainAttrs(s.attributes), sdkAttrs(sdk.attributes));
    t.assert.strictEqual(s.events.length, sdk.events.length);
    t.assert.strictEqual(s.links.length, sdk.links.length);
    t.assert.strictEqual(s.flags & 0xff, sdk.spanContext().traceFlags);
    t.assert.strictEqual(s.droppedAttributesCount, sdk.droppedAttributesCount);
    t.assert.strictEqual(s.droppedEventsCount, sdk.droppedEventsCount);
    t.assert.strictEqual(s.droppedLinksCount, sdk.droppedLinksCount);
  }
  const c = byName.get('child')!;
  t.assert.deepStrictEqual([c.droppedAttributesCount, c.droppedEventsCount, c.droppedLinksCount], [1, 1, 1]);
  t.assert.strictEqual(c.status?.code, 2);
  t.assert.strictEqual(c.status?.message, 'boom');
  t.assert.strictEqual(c.events[0]!.name, 'retry');
  t.assert.strictEqual(c.events[0]!.timeUnixNano, 1_700_000_000_000_000_700n);
  t.assert.deepStrictEqual(plainAttrs(c.events[0]!.attributes), { attempt: 2 });
  t.assert.strictEqual(Buffer.from(c.links[0]!.traceId).toString('hex'), linked.traceId);
  t.assert.strictEqual(Buffer.from(c.links[0]!.spanId).toString('hex'), linked.spanId);
  t.assert.deepStrictEqual(plainAttrs(c.links[0]!.attributes), { why: 'batch' });
  t.assert.strictEqual(c.links[0]!.flags & 0x300, 0x300, 'link flags carry has-is-remote and is-remote');
});

class CollectingReader extends MetricReader {
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
}

void test('metrics from the JS SDK serialised by otlp-transformer decode to the same content', async (t: TestContext) => {
  const reader = new CollectingReader({ aggregationTemporalitySelector: () => AggregationTemporality.CUMULATIVE });
  const provider = new MeterProvider({
    resource,
    readers: [reader],
    views: [{ instrumentName: 'latency.exp', aggregation: { type: AggregationType.EXPONENTIAL_HISTOGRAM } }],
  });
  const meter = provider.getMeter('interop-meter', '2.0.0');
  meter.createCounter('requests', { description: 'requests served', unit: '{request}' }).add(5, { route: '/a' });
  meter.createUpDownCounter('queue.depth').add(-3);
  meter.createGauge('temperature', { unit: 'Cel' }).record(21.5, { room: 'b' });
  const h = meter.createHistogram('latency', { unit: 'ms', advice: { explicitBucketBoundaries: [1, 10, 100] } });
  for (const v of [0.5, 5, 50, 500]) h.record(v);
  const eh = meter.createHistogram('latency.exp');
  for (const v of [1, 2, 4, 8, 0, -1]) eh.record(v);
  const { resourceMetrics, errors } = await reader.collect();
  t.assert.deepStrictEqual(errors, []);
  const rm: SdkResourceMetrics = resourceMetrics;

  const pb = ProtobufMetricsSerializer.serializeRequest(rm)!;
  const json = JsonMetricsSerializer.serializeRequest(rm)!;
  const fromPb = decodeMetricsRequest(pb);
  t.assert.deepStrictEqual(decodeMetricsRequestJson(json), fromPb, 'JSON and protobuf paths agree');

  const ours = fromPb.resourceMetrics[0]!;
  t.assert.deepStrictEqual(plainAttrs(ours.resource!.attributes), sdkAttrs(resource.attributes));
  const sm = ours.scopeMetrics[0]!;
  t.assert.strictEqual(sm.scope?.name, 'interop-meter');
  t.assert.strictEqual(sm.scope?.version, '2.0.0');
  const sdkMetrics = rm.scopeMetrics[0]!.metrics;
  t.assert.deepStrictEqual(sm.metrics.map((m) => m.name), sdkMetrics.map((m) => m.descriptor.name));
  for (let i = 0; i < sdkMetrics.length; i++) {
    const sdk = sdkMetrics[i]!;
    const m = sm.metrics[i]!;
    t.assert.strictEqual(m.description, sdk.descriptor.description);
    t.assert.strictEqual(m.unit, sdk.descriptor.unit);
    const d = m.data;
    const sdkPoint = sdk.dataPoints[0]!;
    switch (sdk.dataPointType) {
      case DataPointType.SUM: {
        t.assert.strictEqual(d.case, 'sum');
        if (d.case !== 'sum') break;
        t.assert.strictEqual(d.value.isMonotonic, sdk.isMonotonic);
        t.assert.strictEqual(d.value.aggregationTemporality, 2);
        const p = d.value.dataPoints[0]!;
        t.assert.strictEqual(p.value.case === 'asInt' || p.value.case === 'asDouble' ? Number(p.value.value) : NaN, sdkPoint.value);
        t.assert.deepStrictEqual(plainAttrs(p.attributes), sdkAttrs(sdkPoint.attributes));
        t.assert.strictEqual(p.startTimeUnixNano, ns(sdkPoint.startTime));
        t.assert.strictEqual(p.timeUnixNano, ns(sdkPoint.endTime));
        break;
      }
      case DataPointType.GAUGE: {
        t.assert.strictEqual(d.case, 'gauge');
        if (d.case !== 'gauge') break;
        const p = d.value.dataPoints[0]!;
        t.assert.deepStrictEqual(p.value, { case: 'asDouble', value: 21.5 });
        t.assert.deepStrictEqual(plainAttrs(p.attributes), { room: 'b' });
        break;
      }
      case DataPointType.HISTOGRAM: {
        t.assert.strictEqual(d.case, 'histogram');
        if (d.case !== 'histogram') break;
        const p = d.value.dataPoints[0]!;
        const v = sdkPoint.value as Histogram;
        t.assert.strictEqual(p.count, BigInt(v.count));
        t.assert.strictEqual(p.sum, v.sum);
        t.assert.strictEqual(p.min, v.min);
        t.assert.strictEqual(p.max, v.max);
        t.assert.deepStrictEqual(p.explicitBounds, [1, 10, 100]);
        t.assert.deepStrictEqual(p.bucketCounts, v.buckets.counts.map(BigInt));
        break;
      }
      case DataPointType.EXPONENTIAL_HISTOGRAM: {
        t.assert.strictEqual(d.case, 'exponentialHistogram');
        if (d.case !== 'exponentialHistogram') break;
        const p = d.value.dataPoints[0]!;
        const v = sdkPoint.value as ExponentialHistogram;
        t.assert.strictEqual(p.count, BigInt(v.count));
        t.assert.strictEqual(p.scale, v.scale);
        t.assert.strictEqual(p.zeroCount, BigInt(v.zeroCount));
        t.assert.strictEqual(p.positive?.offset, v.positive.offset);
        t.assert.deepStrictEqual(p.positive?.bucketCounts, v.positive.bucketCounts.map(BigInt));
        t.assert.deepStrictEqual(p.negative?.bucketCounts, v.negative.bucketCounts.map(BigInt));
        t.assert.strictEqual(p.min, v.min);
        t.assert.strictEqual(p.max, v.max);
        break;
      }
    }
  }
  t.assert.deepStrictEqual(
    sm.metrics.map((m) => m.data.case).sort(),
    ['exponentialHistogram', 'gauge', 'histogram', 'sum', 'sum'],
  );
});

void test('responses we encode (protobuf and JSON) deserialise with otlp-transformer', (t: TestContext) => {
  const logs = { partialSuccess: { rejectedLogRecords: 4n, errorMessage: 'too old' } };
  const metrics = { partialSuccess: { rejectedDataPoints: 2n, errorMessage: 'bad unit' } };
  const traces = { partialSuccess: { rejectedSpans: 1n, errorMessage: 'dup' } };
  // int64 may come back as number, bigint or decimal string (OTLP/JSON); compare the value
  const norm = (x: unknown): unknown =>
    JSON.parse(JSON.stringify(x, (_k, v: unknown) => (typeof v === 'bigint' || (typeof v === 'string' && /^-?\d+$/.test(v)) ? Number(v) : v)));
  t.assert.deepStrictEqual(norm(ProtobufLogsSerializer.deserializeResponse(encodeLogsResponse(logs))), { partialSuccess: { rejectedLogRecords: 4, errorMessage: 'too old' } });
  t.assert.deepStrictEqual(norm(ProtobufMetricsSerializer.deserializeResponse(encodeMetricsResponse(metrics))), { partialSuccess: { rejectedDataPoints: 2, errorMessage: 'bad unit' } });
  t.assert.deepStrictEqual(norm(ProtobufTraceSerializer.deserializeResponse(encodeTraceResponse(traces))), { partialSuccess: { rejectedSpans: 1, errorMessage: 'dup' } });
  const te = new TextEncoder();
  t.assert.deepStrictEqual(norm(JsonLogsSerializer.deserializeResponse(te.encode(encodeLogsResponseJson(logs)))), { partialSuccess: { rejectedLogRecords: 4, errorMessage: 'too old' } });
  t.assert.deepStrictEqual(norm(JsonMetricsSerializer.deserializeResponse(te.encode(encodeMetricsResponseJson(metrics)))), { partialSuccess: { rejectedDataPoints: 2, errorMessage: 'bad unit' } });
  t.assert.deepStrictEqual(norm(JsonTraceSerializer.deserializeResponse(te.encode(encodeTraceResponseJson(traces)))), { partialSuccess: { rejectedSpans: 1, errorMessage: 'dup' } });
});
