// Why an OTLP/HTTP request was refused, with the HTTP status and the gRPC code that goes
// into its google.rpc.Status body. Codes are documented in ./README.md (a test checks it).
// These live beside the ingest helpers rather than in ../errors.ts so the ingest module
// stays self-contained for the enrichment service and the trace receiver.

const GRPC_INVALID_ARGUMENT = 3;
const GRPC_RESOURCE_EXHAUSTED = 8;
const GRPC_UNAVAILABLE = 14;

const INGEST_REJECTIONS = {
  SEXTANT_INGEST_UNSUPPORTED_CONTENT_TYPE: { statusCode: 415, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_UNSUPPORTED_ENCODING: { statusCode: 415, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_BODY_TOO_LARGE: { statusCode: 413, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_DECODED_TOO_LARGE: { statusCode: 413, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_BAD_COMPRESSION: { statusCode: 400, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_MALFORMED: { statusCode: 400, grpcCode: GRPC_INVALID_ARGUMENT },
  SEXTANT_INGEST_QUEUE_FULL: { statusCode: 429, grpcCode: GRPC_RESOURCE_EXHAUSTED },
  SEXTANT_INGEST_UNAVAILABLE: { statusCode: 503, grpcCode: GRPC_UNAVAILABLE },
} as const;

type IngestRejectionCode = keyof typeof INGEST_REJECTIONS;

/** A refused request: what the client gets back (status, Status body, optional Retry-After). */
interface IngestRejection {
  kind: 'rejected';
  code: IngestRejectionCode;
  statusCode: number;
  grpcCode: number;
  message: string;
  /** Set for 429/503: the client should wait this long before retrying. */
  retryAfterMs?: number;
  /** Close the connection after answering (the client announced a body we will not read). */
  closeConnection?: boolean;
}

function ingestRejection(
  code: IngestRejectionCode,
  message: string,
  extra: { retryAfterMs?: number; closeConnection?: boolean } = {},
): IngestRejection {
  const entry = INGEST_REJECTIONS[code];
  return { kind: 'rejected', code, statusCode: entry.statusCode, grpcCode: entry.grpcCode, message, ...extra };
}

export { INGEST_REJECTIONS, ingestRejection };
export type { IngestRejection, IngestRejectionCode };
