// Shared OTLP/HTTP ingest helpers (enrichment service, trace receiver).
export { DEFAULT_INGEST_LIMITS, createOtlpBodyParser, negotiateOtlpRequest, readOtlpBody, responseFormatOf } from './body.ts';
export type { ContentEncoding, IngestLimits, OtlpBody, OtlpBodyResult, FrameSpan } from './body.ts';
export { inflateStored, inflateZstdFrames, walkZstdFrames } from './zstd-frames.ts';
export { walkGzipMembers } from './gzip-members.ts';
export type { ZstdFrame, ZstdFrameWalk } from './zstd-frames.ts';
export { INGEST_REJECTIONS, ingestRejection } from './rejections.ts';
export type { IngestRejection, IngestRejectionCode } from './rejections.ts';
export { contentTypeOf, rejectionResponse, successResponse } from './response.ts';
export type { IngestResponse } from './response.ts';
export { encodeExportResponse, encodeRpcStatus } from './wire.ts';
export type { OtlpFormat, OtlpSignal, PartialSuccess } from './wire.ts';
