// Seeded random OTLP requests covering every field, for the interop, splice and fuzz tests.
import { create } from '@bufbuild/protobuf';
import {
  ExportLogsServiceRequestSchema,
  ExportMetricsServiceRequestSchema,
  ExportTraceServiceRequestSchema,
} from '@sextant/otlp';
import type { ExportLogsServiceRequest, ExportMetricsServiceRequest, ExportTraceServiceRequest, Signal } from '@sextant/otlp';

export interface Rng {
  next(): number;
  int(n: number): number;
  bool(p?: number): boolean;
  pick<T>(arr: readonly T[]): T;
  bytes(n: number): Uint8Array;
  u64(): bigint;
  i64(): bigint;
  u32(): number;
  double(): number;
  str(max?: number): string;
}

/** mulberry32: small, fast, seedable. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  const u32 = (): number => (next() * 4294967296) >>> 0;
  const words = ['', 'a', 'k8s.pod.name', 'service.name', 'héllo', '日本語', '😀 emoji', 'x'.repeat(130), 'tab\tnew\nline', 'quote"back\\'];
  return {
    next,
    int,
    u32,
    bool: (p = 0.5) => next() < p,
    pick: <T>(arr: readonly T[]): T => arr[int(arr.length)]!,
    bytes: (n: number) => {
      const b = new Uint8Array(n);
      for (let i = 0; i < n; i++) b[i] = int(256);
      return b;
    },
    u64: () => {
      const r = int(4);
      if (r === 0) return 0n;
      if (r === 1) return BigInt(u32());
      return (BigInt(u32()) << 32n) | BigInt(u32());
    },
    i64: () => {
      const r = int(4);
      if (r === 0) return BigInt(int(100));
      if (r === 1) return -BigInt(u32());
      return BigInt.asIntN(64, (BigInt(u32()) << 32n) | BigInt(u32()));
    },
    double: () => {
      const r = int(10);
      if (r === 0) return 0;
      if (r === 1) return Number.MAX_VALUE;
      if (r === 2) return -1.5e-300;
      if (r === 3) return int(1000);
      return (next() - 0.5) * 10 ** int(20);
    },
    str: (max = 3) => {
      let s = '';
      const n = int(max) + 1;
      for (let i = 0; i < n; i++) s += words[int(words.length)];
      return s;
    },
  };
}

export interface GenOptions {
  /** include string_value_strindex / key_strindex (profiles-only fields) */
  strindex?: boolean;
  resources?: number;
  scopes?: number;
  records?: number;
  maxDepth?: number;
}

type AnyInit = Record<string, unknown>;

export function anyValue(r: Rng, o: GenOptions, depth = 0): AnyInit {
  const kinds = ['string', 'bool', 'int', 'double', 'bytes', 'empty'];
  if (depth < (o.maxDepth ?? 3)) kinds.push('array', 'kvlist');
  if (o.strindex) kinds.push('strindex');
  switch (r.pick(kinds)) {
    case 'string':
      return { value: { case: 'stringValue', value: r.str() } };
    case 'bool':
      return { value: { case: 'boolValue', value: r.bool() } };
    case 'int':
      return { value: { case: 'intValue', value: r.i64() } };
    case 'double':
      return { value: { case: 'doubleValue', value: r.double() } };
    case 'bytes':
      return { value: { case: 'bytesValue', value: r.bytes(r.int(20)) } };
    case 'array':
      return { value: { case: 'arrayValue', value: { values: Array.from({ length: r.int(4) }, () => anyValue(r, o, depth + 1)) } } };
    case 'kvlist':
      return { value: { case: 'kvlistValue', value: { values: Array.from({ length: r.int(4) }, () => keyValue(r, o, depth + 1)) } } };
    case 'strindex':
      return { value: { case: 'stringValueStrindex', value: r.int(1000) } };
    default:
      return {};
  }
}

export function keyValue(r: Rng, o: GenOptions, depth = 0): AnyInit {
  const kv: AnyInit = { key: r.str(2) };
  if (r.bool(0.95)) kv['value'] = anyValue(r, o, depth);
  if (o.strindex && r.bool(0.2)) kv['keyStrindex'] = r.int(1000) - 10;
  return kv;
}

export function attrs(r: Rng, o: GenOptions, max = 5): AnyInit[] {
  return Array.from({ length: r.int(max + 1) }, () => keyValue(r, o));
}

function scope(r: Rng, o: GenOptions): AnyInit {
  return { name: r.str(1), version: r.str(1), attributes: attrs(r, o, 2), droppedAttributesCount: r.int(3) };
}

export function resource(r: Rng, o: GenOptions): AnyInit {
  return {
    attributes: attrs(r, o, 6),
    droppedAttributesCount: r.int(3),
    entityRefs: Array.from({ length: r.int(3) }, () => ({
      schemaUrl: r.str(1),
      type: r.pick(['k8s.pod', 'service', '']),
      idKeys: Array.from({ length: r.int(3) }, () => r.str(1)),
      descriptionKeys: Array.from({ length: r.int(3) }, () => r.str(1)),
    })),
  };
}

const id = (r: Rng, n: number): Uint8Array => (r.bool(0.8) ? r.bytes(n) : new Uint8Array(0));

function logRecord(r: Rng, o: GenOptions): AnyInit {
  const rec: AnyInit = {
    timeUnixNano: r.u64(),
    observedTimeUnixNano: r.u64(),
    severityNumber: r.int(25),
    severityText: r.pick(['', 'INFO', 'warn', 'ERROR']),
    attributes: attrs(r, o, 4),
    droppedAttributesCount: r.int(3),
    flags: r.pick([0, 1, 0xff, r.u32()]),
    traceId: id(r, 16),
    spanId: id(r, 8),
    eventName: r.pick(['', 'browser.click', r.str(1)]),
  };
  if (r.bool(0.9)) rec['body'] = anyValue(r, o);
  return rec;
}

function span(r: Rng, o: GenOptions): AnyInit {
  return {
    traceId: id(r, 16),
    spanId: id(r, 8),
    traceState: r.pick(['', 'rojo=00f067aa0ba902b7', r.str(1)]),
    parentSpanId: id(r, 8),
    flags: r.pick([0, 1, 0x301, r.u32()]),
    name: r.str(2),
    kind: r.int(6),
    startTimeUnixNano: r.u64(),
    endTimeUnixNano: r.u64(),
    attributes: attrs(r, o, 4),
    droppedAttributesCount: r.int(3),
    events: Array.from({ length: r.int(3) }, () => ({
      timeUnixNano: r.u64(),
      name: r.str(1),
      attributes: attrs(r, o, 2),
      droppedAttributesCount: r.int(3),
    })),
    droppedEventsCount: r.int(3),
    links: Array.from({ length: r.int(3) }, () => ({
      traceId: id(r, 16),
      spanId: id(r, 8),
      traceState: r.pick(['', 'a=b']),
      attributes: attrs(r, o, 2),
      droppedAttributesCount: r.int(3),
      flags: r.pick([0, 1, 0x300]),
    })),
    droppedLinksCount: r.int(3),
    ...(r.bool(0.8) ? { status: { message: r.pick(['', 'boom']), code: r.int(3) } } : {}),
  };
}

function exemplar(r: Rng, o: GenOptions): AnyInit {
  const e: AnyInit = {
    filteredAttributes: attrs(r, o, 2),
    timeUnixNano: r.u64(),
    spanId: id(r, 8),
    traceId: id(r, 16),
  };
  const k = r.int(3);
  if (k === 1) e['value'] = { case: 'asDouble', value: r.double() };
  if (k === 2) e['value'] = { case: 'asInt', value: r.i64() };
  return e;
}

function numberPoint(r: Rng, o: GenOptions): AnyInit {
  const p: AnyInit = {
    attributes: attrs(r, o, 3),
    startTimeUnixNano: r.u64(),
    timeUnixNano: r.u64(),
    exemplars: Array.from({ length: r.int(3) }, () => exemplar(r, o)),
    flags: r.int(2),
  };
  const k = r.int(3);
  if (k === 1) p['value'] = { case: 'asDouble', value: r.double() };
  if (k === 2) p['value'] = { case: 'asInt', value: r.i64() };
  return p;
}

function optDouble(r: Rng, p: AnyInit, key: string): void {
  if (r.bool(0.7)) p[key] = r.double();
}

function metric(r: Rng, o: GenOptions): AnyInit {
  const m: AnyInit = {
    name: r.str(1),
    description: r.pick(['', 'how many']),
    unit: r.pick(['', 'By', '{request}']),
    metadata: attrs(r, o, 2),
  };
  const n = r.int(3) + 1;
  switch (r.int(6)) {
    case 0:
      m['data'] = { case: 'gauge', value: { dataPoints: Array.from({ length: n }, () => numberPoint(r, o)) } };
      break;
    case 1:
      m['data'] = {
        case: 'sum',
        value: { dataPoints: Array.from({ length: n }, () => numberPoint(r, o)), aggregationTemporality: r.int(3), isMonotonic: r.bool() },
      };
      break;
    case 2:
      m['data'] = {
        case: 'histogram',
        value: {
          aggregationTemporality: r.int(3),
          dataPoints: Array.from({ length: n }, () => {
            const p: AnyInit = {
              attributes: attrs(r, o, 3),
              startTimeUnixNano: r.u64(),
              timeUnixNano: r.u64(),
              count: r.u64(),
              bucketCounts: Array.from({ length: r.int(5) }, () => r.u64()),
              explicitBounds: Array.from({ length: r.int(4) }, () => r.double()),
              exemplars: Array.from({ length: r.int(3) }, () => exemplar(r, o)),
              flags: r.int(2),
            };
            optDouble(r, p, 'sum');
            optDouble(r, p, 'min');
            optDouble(r, p, 'max');
            return p;
          }),
        },
      };
      break;
    case 3:
      m['data'] = {
        case: 'exponentialHistogram',
        value: {
          aggregationTemporality: r.int(3),
          dataPoints: Array.from({ length: n }, () => {
            const buckets = (): AnyInit => ({ offset: r.int(200) - 100, bucketCounts: Array.from({ length: r.int(5) }, () => r.u64()) });
            const p: AnyInit = {
              attributes: attrs(r, o, 3),
              startTimeUnixNano: r.u64(),
              timeUnixNano: r.u64(),
              count: r.u64(),
              scale: r.int(40) - 20,
              zeroCount: r.u64(),
              flags: r.int(2),
              exemplars: Array.from({ length: r.int(3) }, () => exemplar(r, o)),
              zeroThreshold: r.pick([0, 1e-9, r.double()]),
            };
            if (r.bool(0.8)) p['positive'] = buckets();
            if (r.bool(0.8)) p['negative'] = buckets();
            optDouble(r, p, 'sum');
            optDouble(r, p, 'min');
            optDouble(r, p, 'max');
            return p;
          }),
        },
      };
      break;
    case 4:
      m['data'] = {
        case: 'summary',
        value: {
          dataPoints: Array.from({ length: n }, () => ({
            attributes: attrs(r, o, 3),
            startTimeUnixNano: r.u64(),
            timeUnixNano: r.u64(),
            count: r.u64(),
            sum: r.double(),
            quantileValues: Array.from({ length: r.int(4) }, () => ({ quantile: r.next(), value: r.double() })),
            flags: r.int(2),
          })),
        },
      };
      break;
    default:
      break; // no data set
  }
  return m;
}

function scopeList(r: Rng, o: GenOptions, records: (r: Rng, o: GenOptions) => AnyInit, listKey: string): AnyInit[] {
  return Array.from({ length: o.scopes ?? r.int(3) + 1 }, () => {
    const s: AnyInit = { [listKey]: Array.from({ length: o.records ?? r.int(4) }, () => records(r, o)), schemaUrl: r.pick(['', 'https://opentelemetry.io/schemas/1.30.0']) };
    if (r.bool(0.85)) s['scope'] = scope(r, o);
    return s;
  });
}

function resourceList(r: Rng, o: GenOptions, scopeKey: string, records: (r: Rng, o: GenOptions) => AnyInit, listKey: string): AnyInit[] {
  return Array.from({ length: o.resources ?? r.int(4) }, () => {
    const x: AnyInit = { [scopeKey]: scopeList(r, o, records, listKey), schemaUrl: r.pick(['', 'https://opentelemetry.io/schemas/1.26.0']) };
    if (r.bool(0.85)) x['resource'] = resource(r, o);
    return x;
  });
}

export function logsRequest(r: Rng, o: GenOptions = {}): ExportLogsServiceRequest {
  return create(ExportLogsServiceRequestSchema, {
    resourceLogs: resourceList(r, o, 'scopeLogs', logRecord, 'logRecords'),
  });
}

export function metricsRequest(r: Rng, o: GenOptions = {}): ExportMetricsServiceRequest {
  return create(ExportMetricsServiceRequestSchema, {
    resourceMetrics: resourceList(r, o, 'scopeMetrics', metric, 'metrics'),
  });
}

export function traceRequest(r: Rng, o: GenOptions = {}): ExportTraceServiceRequest {
  return create(ExportTraceServiceRequestSchema, {
    resourceSpans: resourceList(r, o, 'scopeSpans', span, 'spans'),
  });
}

export const SIGNALS: readonly Signal[] = ['logs', 'metrics', 'traces'];
