// Public API of @sextant/pipeline.
export { createDiskQueue, diskQueueSegmentBytes, writeFileAtomic } from './queue.ts';
export type {
  DeadLetterInfo, DeadLetterItem, DeadLetterResult, DeadLetterStore, DiskQueueOptions, EnqueueItem, EnqueueResult,
  JsonValue, Queue, QueueItem, QueueStats,
} from './queue.ts';
export { SextantError, errorCodes, isSextantError } from './errors.ts';
export type { ErrorCode, ErrorSpec } from './errors.ts';
export { createLogger, silentLogger } from './logger.ts';
export type { LogLevel, Logger, LoggerOptions } from './logger.ts';
// OTLP/HTTP ingest helpers (see src/ingest/README.md)
export {
  DEFAULT_INGEST_LIMITS,
  INGEST_REJECTIONS,
  contentTypeOf,
  createOtlpBodyParser,
  encodeExportResponse,
  encodeRpcStatus,
  ingestRejection,
  negotiateOtlpRequest,
  readOtlpBody,
  rejectionResponse,
  responseFormatOf,
  successResponse,
  inflateStored,
  inflateZstdFrames,
  walkGzipMembers,
  walkZstdFrames,
} from './ingest/index.ts';
export type {
  ContentEncoding,
  IngestLimits,
  IngestRejection,
  IngestRejectionCode,
  IngestResponse,
  OtlpBody,
  OtlpBodyResult,
  OtlpFormat,
  OtlpSignal,
  PartialSuccess,
  ZstdFrame,
  FrameSpan,
  ZstdFrameWalk,
} from './ingest/index.ts';
export { configDocs, defineConfig, envName, loadConfig, parseBytes, parseDuration, s } from './config.ts';
export type { Field, FieldInfo, Infer, LoadConfigOptions, ObjectField, SecretSource } from './config.ts';
export { createMetrics, registerQueueMetrics } from './metrics.ts';
export type { MetricOptions, Metrics } from './metrics.ts';
export { headerReader, secretReader } from './secrets.ts';
export { tlsReader } from './tls.ts';
export type { TlsMaterial, TlsOptions } from './tls.ts';
export { createRetryPolicy } from './retry.ts';
export type { RetryPolicy, RetryPolicyOptions } from './retry.ts';
export { compress, parseRetryAfter } from './exporter.ts';
export type { Compression, ExportItem, ExportResult, Exporter } from './exporter.ts';
export { createOtlpHttpExporter } from './otlp-http.ts';
export type { OtlpHttpExporterOptions } from './otlp-http.ts';
export { createOtlpGrpcExporter, grpcServicePaths, retryDelayFromStatusDetails } from './otlp-grpc.ts';
export type { OtlpGrpcExporterOptions } from './otlp-grpc.ts';
export { createSplunkHecExporter } from './splunk-hec.ts';
export type { HecEvent, SplunkHecExporterOptions } from './splunk-hec.ts';
export { createFileExporter } from './file-exporter.ts';
export type { FileExporterOptions } from './file-exporter.ts';
export { createExportLoop } from './export-loop.ts';
export type { ExportLoop, ExportLoopOptions, ExportLoopStats } from './export-loop.ts';
export { component, runComponents } from './lifecycle.ts';
export type { Component, RunComponentsOptions, RunningComponents } from './lifecycle.ts';
export { exporterConfig, exporterFromConfig, extractRuleIssues, extractRulesConfig, queueConfig, queueFromConfig, retryConfig, retryPolicyFromConfig, tlsConfig } from './presets.ts';
export type { ExporterConfig, ExporterDeps, QueueConfig, RetryConfig, TlsConfig } from './presets.ts';
