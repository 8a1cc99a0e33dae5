// Public API of @sextant/otlp: OTLP protobuf + JSON codecs, the resource splice, the direct logs encoder.
export {
  decodeLogsRequest,
  encodeLogsRequest,
  decodeMetricsRequest,
  encodeMetricsRequest,
  decodeTraceRequest,
  encodeTraceRequest,
  decodeLogsResponse,
  encodeLogsResponse,
  decodeMetricsResponse,
  encodeMetricsResponse,
  decodeTraceResponse,
  encodeTraceResponse,
  decodeLogsRequestJson,
  encodeLogsRequestJson,
  decodeMetricsRequestJson,
  encodeMetricsRequestJson,
  decodeTraceRequestJson,
  encodeTraceRequestJson,
  decodeLogsResponseJson,
  encodeLogsResponseJson,
  decodeMetricsResponseJson,
  encodeMetricsResponseJson,
  decodeTraceResponseJson,
  encodeTraceResponseJson,
  MAX_JSON_DEPTH,
} from './codec.ts';
export type {
  LogsRequestInit,
  MetricsRequestInit,
  TraceRequestInit,
  LogsResponseInit,
  MetricsResponseInit,
  TraceResponseInit,
} from './codec.ts';
export { rewriteResources, rewriteResourcesParts, readResources, countRecords, countResourceRecords, scanResourceContent } from './splice.ts';
export type { Signal, ResourceRewrite } from './splice.ts';
export { createLogsEncoder } from './logs-encoder.ts';
export { encodeGzipFramedLogs, encodeZstdFramedLogs, gzipStoredMember, zstdStoredFrame } from './framed.ts';
export {
  AUDIT_SCOPE_NAME,
  auditAttributes,
  auditBody,
  auditLogRecord,
  auditSeverity,
  checkAuditEvent,
  checkEventList,
  rfc3339ToUnixNano,
} from './audit.ts';
export type { AuditEvent, AuditLogRecord, AuditUser } from './audit.ts';
export type { LogsEncoder, LogsEncoderOptions, LogRecordInput } from './logs-encoder.ts';
export {
  stringKv,
  intKv,
  doubleKv,
  boolKv,
  getStringAttr,
  setAttrs,
  keyValueToMessage,
  keyValueFromMessage,
  anyValueToMessage,
  anyValueFromMessage,
} from './kv.ts';
export type { KeyValue, AnyValue, KvListValue, StrIndexValue } from './kv.ts';
export { OtlpDecodeError, OTLP_ERRORS } from './errors.ts';
export type { OtlpErrorCode } from './errors.ts';
export { MAX_ANYVALUE_DEPTH, fieldHead, readVarintAt } from './wire.ts';
export {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
  ExportLogsPartialSuccessSchema,
} from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
export type {
  ExportLogsServiceRequest,
  ExportLogsServiceResponse,
  ExportLogsPartialSuccess,
} from './gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts';
export {
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
  ExportMetricsPartialSuccessSchema,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts';
export type {
  ExportMetricsServiceRequest,
  ExportMetricsServiceResponse,
  ExportMetricsPartialSuccess,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.ts';
export {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
  ExportTracePartialSuccessSchema,
} from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts';
export type {
  ExportTraceServiceRequest,
  ExportTraceServiceResponse,
  ExportTracePartialSuccess,
} from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts';
export type { ResourceLogs, ScopeLogs, LogRecord } from './gen/opentelemetry/proto/logs/v1/logs_pb.ts';
export { SeverityNumber, LogRecordFlags } from './gen/opentelemetry/proto/logs/v1/logs_pb.ts';
export type { ResourceSpans, ScopeSpans, Span, Span_Event, Span_Link, Status } from './gen/opentelemetry/proto/trace/v1/trace_pb.ts';
export { Span_SpanKind, Status_StatusCode, SpanFlags } from './gen/opentelemetry/proto/trace/v1/trace_pb.ts';
export type {
  ResourceMetrics,
  ScopeMetrics,
  Metric,
  Gauge,
  Sum,
  Histogram,
  ExponentialHistogram,
  Summary,
  NumberDataPoint,
  HistogramDataPoint,
  ExponentialHistogramDataPoint,
  ExponentialHistogramDataPoint_Buckets,
  SummaryDataPoint,
  SummaryDataPoint_ValueAtQuantile,
  Exemplar,
} from './gen/opentelemetry/proto/metrics/v1/metrics_pb.ts';
export { AggregationTemporality, DataPointFlags } from './gen/opentelemetry/proto/metrics/v1/metrics_pb.ts';
export type { Resource } from './gen/opentelemetry/proto/resource/v1/resource_pb.ts';
export type {
  AnyValue as AnyValueMessage,
  KeyValue as KeyValueMessage,
  ArrayValue,
  KeyValueList,
  InstrumentationScope,
  EntityRef,
} from './gen/opentelemetry/proto/common/v1/common_pb.ts';
