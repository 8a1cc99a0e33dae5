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
} from './ingest/index.ts';
