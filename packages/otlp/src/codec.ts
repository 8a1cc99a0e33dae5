// Full OTLP codecs: protobuf via the generated @bufbuild/protobuf code, OTLP/JSON via its
// proto3-JSON support plus the OTLP differences (hex trace/span ids, integer enums); see
// https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding
import { create, fromBinary, fromJson, toBinary, toJson } from '@bufbuild/protobuf';
import type { DescMessage, JsonValue, MessageInitShape, MessageShape } from '@bufbuild/protobuf';
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
import {
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts';
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts';
import { OtlpDecodeError, otlpError } from './errors.ts';
import { MAX_ANYVALUE_DEPTH, validateWire } from './wire.ts';

// ---------------------------------------------------------------------------------------------
// Protobuf

function decodeBinary<D extends DescMessage>(schema: D, bytes: Uint8Array): MessageShape<D> {
  if (!(bytes instanceof Uint8Array)) throw otlpError('SEXTANT_OTLP_INVALID', `expected a Uint8Array, got ${typeof bytes}`);
  validateWire(bytes, schema);
  try {
    return fromBinary(schema, bytes);
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    throw otlpError('SEXTANT_OTLP_INVALID', err instanceof Error ? err.message : String(err), undefined, err);
  }
}

function encodeBinary<D extends DescMessage>(schema: D, msg: MessageInitShape<D>): Uint8Array {
  return toBinary(schema, create(schema, msg));
}

export type LogsRequestInit = MessageInitShape<typeof ExportLogsServiceRequestSchema>;
export type MetricsRequestInit = MessageInitShape<typeof ExportMetricsServiceRequestSchema>;
export type TraceRequestInit = MessageInitShape<typeof ExportTraceServiceRequestSchema>;
export type LogsResponseInit = MessageInitShape<typeof ExportLogsServiceResponseSchema>;
export type MetricsResponseInit = MessageInitShape<typeof ExportMetricsServiceResponseSchema>;
export type TraceResponseInit = MessageInitShape<typeof ExportTraceServiceResponseSchema>;
type LogsRequest = MessageShape<typeof ExportLogsServiceRequestSchema>;
type MetricsRequest = MessageShape<typeof ExportMetricsServiceRequestSchema>;
type TraceRequest = MessageShape<typeof ExportTraceServiceRequestSchema>;
type LogsResponse = MessageShape<typeof ExportLogsServiceResponseSchema>;
type MetricsResponse = MessageShape<typeof ExportMetricsServiceResponseSchema>;
type TraceResponse = MessageShape<typeof ExportTraceServiceResponseSchema>;

export function decodeLogsRequest(bytes: Uint8Array): LogsRequest {
  return decodeBinary(ExportLogsServiceRequestSchema, bytes);
}
export function encodeLogsRequest(msg: LogsRequestInit): Uint8Array {
  return encodeBinary(ExportLogsServiceRequestSchema, msg);
}
export function decodeMetricsRequest(bytes: Uint8Array): MetricsRequest {
  return decodeBinary(ExportMetricsServiceRequestSchema, bytes);
}
export function encodeMetricsRequest(msg: MetricsRequestInit): Uint8Array {
  return encodeBinary(ExportMetricsServiceRequestSchema, msg);
}
export function decodeTraceRequest(bytes: Uint8Array): TraceRequest {
  return decodeBinary(ExportTraceServiceRequestSchema, bytes);
}
export function encodeTraceRequest(msg: TraceRequestInit): Uint8Array {
  return encodeBinary(ExportTraceServiceRequestSchema, msg);
}
export function decodeLogsResponse(bytes: Uint8Array): LogsResponse {
  return decodeBinary(ExportLogsServiceResponseSchema, bytes);
}
export function encodeLogsResponse(msg: LogsResponseInit): Uint8Array {
  return encodeBinary(ExportLogsServiceResponseSchema, msg);
}
export function decodeMetricsResponse(bytes: Uint8Array): MetricsResponse {
  return decodeBinary(ExportMetricsServiceResponseSchema, bytes);
}
export function encodeMetricsResponse(msg: MetricsResponseInit): Uint8Array {
  return encodeBinary(ExportMetricsServiceResponseSchema, msg);
}
export function decodeTraceResponse(bytes: Uint8Array): TraceResponse {
  return decodeBinary(ExportTraceServiceResponseSchema, bytes);
}
export function encodeTraceResponse(msg: TraceResponseInit): Uint8Array {
  return encodeBinary(ExportTraceServiceResponseSchema, msg);
}

// ---------------------------------------------------------------------------------------------
// OTLP/JSON

/** Where trace/span ids sit in each JSON document; each child lists its camelCase and proto names. */
interface IdSpec {
  ids?: readonly (readonly [string, string])[];
  kids?: readonly (readonly [string, string, IdSpec])[];
}

const traceSpanIds: IdSpec = { ids: [['traceId', 'trace_id'], ['spanId', 'span_id']] };
const pointsWithExemplars: IdSpec = { kids: [['dataPoints', 'data_points', { kids: [['exemplars', 'exemplars', traceSpanIds]] }]] };

const LOGS_IDS: IdSpec = {
  kids: [['resourceLogs', 'resource_logs', { kids: [['scopeLogs', 'scope_logs', { kids: [['logRecords', 'log_records', traceSpanIds]] }]] }]],
};
const TRACE_IDS: IdSpec = {
  kids: [
    [
      'resourceSpans',
      'resource_spans',
      {
        kids: [
          [
            'scopeSpans',
            'scope_spans',
            {
              kids: [
                [
                  'spans',
                  'spans',
                  {
                    ids: [['traceId', 'trace_id'], ['spanId', 'span_id'], ['parentSpanId', 'parent_span_id']],
                    kids: [['links', 'links', traceSpanIds]],
                  },
                ],
              ],
            },
          ],
        ],
      },
    ],
  ],
};
const METRICS_IDS: IdSpec = {
  kids: [
    [
      'resourceMetrics',
      'resource_metrics',
      {
        kids: [
          [
            'scopeMetrics',
            'scope_metrics',
            {
              kids: [
                [
                  'metrics',
                  'metrics',
                  {
                    kids: [
                      ['gauge', 'gauge', pointsWithExemplars],
                      ['sum', 'sum', pointsWithExemplars],
                      ['histogram', 'histogram', pointsWithExemplars],
                      ['exponentialHistogram', 'exponential_histogram', pointsWithExemplars],
                    ],
                  },
                ],
              ],
            },
          ],
        ],
      },
    ],
  ],
};
const NO_IDS: IdSpec = {};

type JsonObject = { [k: string]: JsonValue };

function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Applies `conv` to every id field named by `spec` under `node` (arrays and single objects alike). */
function mapIds(node: JsonValue | undefined, spec: IdSpec, conv: (v: string, name: string) => string): void {
  if (Array.isArray(node)) {
    for (const e of node) mapIds(e, spec, conv);
    return;
  }
  if (!isObject(node)) return;
  if (spec.ids) {
    for (const [a, b] of spec.ids) {
      for (const name of a === b ? [a] : [a, b]) {
        const v = node[name];
        if (typeof v === 'string') node[name] = conv(v, name);
      }
    }
  }
  if (spec.kids) {
    for (const [a, b, kid] of spec.kids) {
      mapIds(node[a], kid, conv);
      if (a !== b) mapIds(node[b], kid, conv);
    }
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function hexToBase64(v: string, name: string): string {
  if (!HEX.test(v)) throw otlpError('SEXTANT_OTLP_JSON', `${name} ${JSON.stringify(v.slice(0, 40))} is not hex (OTLP/JSON ids are hex strings)`);
  return Buffer.from(v, 'hex').toString('base64');
}

function base64ToHex(v: string): string {
  return Buffer.from(v, 'base64').toString('hex');
}

/** JSON nesting cap: three JSON levels per AnyValue level plus the fixed request structure. */
export const MAX_JSON_DEPTH = 3 * MAX_ANYVALUE_DEPTH + 16;

function checkDepth(v: JsonValue, depth: number): void {
  if (depth > MAX_JSON_DEPTH) throw otlpError('SEXTANT_OTLP_DEPTH', `JSON nesting above ${MAX_JSON_DEPTH}`);
  if (Array.isArray(v)) {
    for (const e of v) if (typeof e === 'object' && e !== null) checkDepth(e, depth + 1);
  } else if (typeof v === 'object' && v !== null) {
    for (const k in v) {
      const e = v[k];
      if (typeof e === 'object' && e !== null) checkDepth(e, depth + 1);
    }
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LONG_DIGITS = /\d{16}/;
const INTEGER = /^-?\d+$/;

function keepBigIntegers(this: unknown, _key: string, value: unknown, context?: { source?: string }): unknown {
  if (typeof value === 'number' && !Number.isSafeInteger(value) && context?.source !== undefined && INTEGER.test(context.source)) {
    return context.source;
  }
  return value;
}

function parseJson(input: string | Uint8Array): JsonValue {
  let text: string;
  if (typeof input === 'string') {
    text = input;
  } else if (input instanceof Uint8Array) {
    try {
      text = utf8.decode(input);
    } catch (err) {
      throw otlpError('SEXTANT_OTLP_UTF8', 'the JSON body is not valid UTF-8', undefined, err);
    }
  } else {
    throw otlpError('SEXTANT_OTLP_JSON', `expected a string or Uint8Array, got ${typeof input}`);
  }
  let doc: JsonValue;
  try {
    // 64-bit integers may arrive as JSON numbers; keep the digits of any beyond 2^53 exact
    // (JSON.parse source access, Node 22+). Only paid for when such a long digit run exists.
    doc = (LONG_DIGITS.test(text) ? JSON.parse(text, keepBigIntegers) : JSON.parse(text)) as JsonValue;
  } catch (err) {
    throw otlpError('SEXTANT_OTLP_JSON', err instanceof Error ? err.message : 'invalid JSON', undefined, err);
  }
  checkDepth(doc, 0);
  return doc;
}

function decodeJsonDoc<D extends DescMessage>(schema: D, ids: IdSpec, input: string | Uint8Array): MessageShape<D> {
  const doc = parseJson(input);
  if (!isObject(doc)) throw otlpError('SEXTANT_OTLP_JSON', 'the top level must be a JSON object');
  mapIds(doc, ids, hexToBase64);
  try {
    return fromJson(schema, doc, { ignoreUnknownFields: true });
  } catch (err) {
    if (err instanceof OtlpDecodeError) throw err;
    throw otlpError('SEXTANT_OTLP_JSON', err instanceof Error ? err.message : String(err), undefined, err);
  }
}

function encodeJsonDoc<D extends DescMessage>(schema: D, ids: IdSpec, msg: MessageInitShape<D>): string {
  const doc = toJson(schema, create(schema, msg), { enumAsInteger: true });
  mapIds(doc, ids, base64ToHex);
  return JSON.stringify(doc);
}

export function decodeLogsRequestJson(input: string | Uint8Array): LogsRequest {
  return decodeJsonDoc(ExportLogsServiceRequestSchema, LOGS_IDS, input);
}
export function encodeLogsRequestJson(msg: LogsRequestInit): string {
  return encodeJsonDoc(ExportLogsServiceRequestSchema, LOGS_IDS, msg);
}
export function decodeMetricsRequestJson(input: string | Uint8Array): MetricsRequest {
  return decodeJsonDoc(ExportMetricsServiceRequestSchema, METRICS_IDS, input);
}
export function encodeMetricsRequestJson(msg: MetricsRequestInit): string {
  return encodeJsonDoc(ExportMetricsServiceRequestSchema, METRICS_IDS, msg);
}
export function decodeTraceRequestJson(input: string | Uint8Array): TraceRequest {
  return decodeJsonDoc(ExportTraceServiceRequestSchema, TRACE_IDS, input);
}
export function encodeTraceRequestJson(msg: TraceRequestInit): string {
  return encodeJsonDoc(ExportTraceServiceRequestSchema, TRACE_IDS, msg);
}
export function decodeLogsResponseJson(input: string | Uint8Array): LogsResponse {
  return decodeJsonDoc(ExportLogsServiceResponseSchema, NO_IDS, input);
}
export function encodeLogsResponseJson(msg: LogsResponseInit): string {
  return encodeJsonDoc(ExportLogsServiceResponseSchema, NO_IDS, msg);
}
export function decodeMetricsResponseJson(input: string | Uint8Array): MetricsResponse {
  return decodeJsonDoc(ExportMetricsServiceResponseSchema, NO_IDS, input);
}
export function encodeMetricsResponseJson(msg: MetricsResponseInit): string {
  return encodeJsonDoc(ExportMetricsServiceResponseSchema, NO_IDS, msg);
}
export function decodeTraceResponseJson(input: string | Uint8Array): TraceResponse {
  return decodeJsonDoc(ExportTraceServiceResponseSchema, NO_IDS, input);
}
export function encodeTraceResponseJson(msg: TraceResponseInit): string {
  return encodeJsonDoc(ExportTraceServiceResponseSchema, NO_IDS, msg);
}
