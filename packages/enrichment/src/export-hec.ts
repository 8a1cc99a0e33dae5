// Queue items (enriched OTLP protobuf) → Splunk HEC events, for exporter.protocol splunk_hec.
// The mapping follows the conventions of Splunk's own OTel exporter (splunkhecexporter), so
// searches written for it work:
// - logs: one event per log record; `event` is the body (a string, or JSON for a map/array);
//   `fields` are the resource attributes (the k8s metadata added here) and the record attributes,
//   flattened to strings; `time` is the record time (else the observed time) in seconds;
//   `otel.log.severity.text|number`, `trace_id` and `span_id` go to fields;
//   `com.splunk.index|source|sourcetype` attributes pick the index, source and sourcetype (and are
//   not sent as fields); `host` is `host.name`, else `k8s.node.name`.
// - metrics: one HEC metric event per value (`event: "metric"`, `fields["metric_name:<name>"]`);
//   histograms and summaries give `_count`, `_sum`, `_bucket` (with `le`) and quantile values.
// Only this exporter decodes records; the rest of enrichment works on the bytes (the splice).
import { anyValueFromMessage, decodeLogsRequest, decodeMetricsRequest } from '@sextant/otlp';
import type { AnyValue, KeyValueMessage } from '@sextant/otlp';
import type { HecEvent, JsonValue } from '@sextant/pipeline';

type Fields = Record<string, JsonValue>;

const META = { index: 'com.splunk.index', source: 'com.splunk.source', sourcetype: 'com.splunk.sourcetype' } as const;
const META_KEYS = new Set<string>(Object.values(META));

function bigintJson(v: bigint): JsonValue {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
}

// Array.isArray does not narrow a readonly array type.
const isList = (v: AnyValue): v is readonly AnyValue[] => Array.isArray(v);

/** An AnyValue as JSON for `event` (a map stays a map). */
function toJson(v: AnyValue): JsonValue {
  if (v === null) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? v : String(v);
  if (typeof v === 'bigint') return bigintJson(v);
  if (v instanceof Uint8Array) return Buffer.from(v).toString('base64');
  if (isList(v)) return v.map(toJson);
  if ('kvlist' in v) {
    const o: Record<string, JsonValue> = {};
    for (const kv of v.kvlist) o[kv.key] = toJson(kv.value ?? null);
    return o;
  }
  return String(v.strindex);
}

/** An AnyValue as an indexed-field value: a string, or a list of strings (HEC fields are flat). */
function toField(v: AnyValue): JsonValue | undefined {
  if (v === null) return undefined;
  if (typeof v === 'string') return v;
  if (isList(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(toJson(x))));
  const j = toJson(v);
  return typeof j === 'string' ? j : JSON.stringify(j);
}

interface Meta {
  index?: string;
  source?: string;
  sourcetype?: string;
  host?: string;
}

/** Fields and meta of `attrs` on top of a copy of `base` (a record's on its resource's); the com.splunk.* attributes go to meta. */
function withAttrs(base: { fields: Fields; meta: Meta } | undefined, attrs: readonly KeyValueMessage[]): { fields: Fields; meta: Meta } {
  const fields: Fields = { ...base?.fields };
  const meta: Meta = { ...base?.meta };
  for (const kv of attrs) {
    if (kv.value === undefined) continue;
    const v = anyValueFromMessage(kv.value);
    if (META_KEYS.has(kv.key)) {
      if (typeof v === 'string' && v !== '') {
        if (kv.key === META.index) meta.index = v;
        else if (kv.key === META.source) meta.source = v;
        else meta.sourcetype = v;
      }
      continue;
    }
    const f = toField(v);
    if (f !== undefined) fields[kv.key] = f;
  }
  return { fields, meta };
}

function hostOf(fields: Fields): string | undefined {
  const h = fields['host.name'] ?? fields['k8s.node.name'];
  return typeof h === 'string' && h !== '' ? h : undefined;
}

/** Nanoseconds since the epoch → HEC seconds (millisecond precision, as Splunk's exporter sends). */
function seconds(ns: bigint): number | undefined {
  if (ns <= 0n) return undefined;
  return Number(ns / 1_000_000n) / 1000;
}

function envelope(meta: Meta, time: number | undefined, event: JsonValue, fields: Fields): HecEvent {
  const e: HecEvent = { event };
  if (time !== undefined) e['time'] = time;
  if (meta.host !== undefined) e['host'] = meta.host;
  if (meta.index !== undefined) e['index'] = meta.index;
  if (meta.source !== undefined) e['source'] = meta.source;
  if (meta.sourcetype !== undefined) e['sourcetype'] = meta.sourcetype;
  e['fields'] = fields;
  return e;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function logsToHec(payload: Uint8Array): HecEvent[] {
  const out: HecEvent[] = [];
  for (const rl of decodeLogsRequest(payload).resourceLogs) {
    const res = withAttrs(undefined, rl.resource?.attributes ?? []);
    for (const sl of rl.scopeLogs) {
      for (const lr of sl.logRecords) {
        const { fields, meta } = withAttrs(res, lr.attributes);
        if (lr.severityText !== '') fields['otel.log.severity.text'] = lr.severityText;
        if (lr.severityNumber !== 0) fields['otel.log.severity.number'] = String(lr.severityNumber);
        if (lr.traceId.length > 0) fields['trace_id'] = hex(lr.traceId);
        if (lr.spanId.length > 0) fields['span_id'] = hex(lr.spanId);
        const host = hostOf(fields);
        if (host !== undefined) meta.host = host;
        const body = lr.body === undefined ? null : toJson(anyValueFromMessage(lr.body));
        // HEC refuses a blank event ("Event field cannot be blank", a 400 for the whole request),
        // and an empty line is a real log record: send it as an object that says so.
        const event = body === null || body === '' ? { body: '' } : body;
        out.push(envelope(meta, seconds(lr.timeUnixNano > 0n ? lr.timeUnixNano : lr.observedTimeUnixNano), event, fields));
      }
    }
  }
  return out;
}

function metricsToHec(payload: Uint8Array): HecEvent[] {
  const out: HecEvent[] = [];
  for (const rm of decodeMetricsRequest(payload).resourceMetrics) {
    const res = withAttrs(undefined, rm.resource?.attributes ?? []);
    const host = hostOf(res.fields);
    if (host !== undefined) res.meta.host = host;
    for (const sm of rm.scopeMetrics) {
      for (const m of sm.metrics) {
        const point = (attrs: readonly KeyValueMessage[], timeNs: bigint, name: string, value: number, extra: Fields = {}): void => {
          const { fields, meta } = withAttrs(res, attrs);
          Object.assign(fields, extra);
          fields[`metric_name:${name}`] = Number.isFinite(value) ? value : String(value);
          out.push(envelope(meta, seconds(timeNs), 'metric', fields));
        };
        const d = m.data;
        switch (d.case) {
          case 'gauge':
          case 'sum':
            for (const p of d.value.dataPoints) {
              const v = p.value.case === 'asDouble' ? p.value.value : p.value.case === 'asInt' ? Number(p.value.value) : undefined;
              if (v !== undefined) point(p.attributes, p.timeUnixNano, m.name, v);
            }
            break;
          case 'histogram':
            for (const p of d.value.dataPoints) {
              point(p.attributes, p.timeUnixNano, `${m.name}_count`, Number(p.count));
              if (p.sum !== undefined) point(p.attributes, p.timeUnixNano, `${m.name}_sum`, p.sum);
              let cumulative = 0;
              p.bucketCounts.forEach((c, i) => {
                cumulative += Number(c);
                const le = i < p.explicitBounds.length ? String(p.explicitBounds[i]) : '+Inf';
                point(p.attributes, p.timeUnixNano, `${m.name}_bucket`, cumulative, { le });
              });
            }
            break;
          case 'exponentialHistogram':
            for (const p of d.value.dataPoints) {
              point(p.attributes, p.timeUnixNano, `${m.name}_count`, Number(p.count));
              if (p.sum !== undefined) point(p.attributes, p.timeUnixNano, `${m.name}_sum`, p.sum);
            }
            break;
          case 'summary':
            for (const p of d.value.dataPoints) {
              point(p.attributes, p.timeUnixNano, `${m.name}_count`, Number(p.count));
              point(p.attributes, p.timeUnixNano, `${m.name}_sum`, p.sum);
              for (const q of p.quantileValues) point(p.attributes, p.timeUnixNano, m.name, q.value, { quantile: String(q.quantile) });
            }
            break;
          default:
            break;
        }
      }
    }
  }
  return out;
}

/** `toHecEvents` of @sextant/pipeline's HEC exporter for enrichment's queue items. */
function toHecEvents(signal: string, payload: Uint8Array): HecEvent[] {
  if (signal === 'logs') return logsToHec(payload);
  if (signal === 'metrics') return metricsToHec(payload);
  throw new Error(`signal ${JSON.stringify(signal)} has no HEC mapping (valid: logs, metrics)`);
}

export { toHecEvents };
