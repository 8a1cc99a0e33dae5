// Public API of @sextant/pipeline. Nothing is exported yet.
export {};
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
