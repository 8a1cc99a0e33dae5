// The one table of @sextant/trace-receiver error codes. Every code is documented in README.md
// (test/errors.test.ts checks that). OTLP/HTTP body problems (content type, compression, size)
// use the shared ingest codes (SEXTANT_INGEST_*) of @sextant/pipeline, so :4318 answers exactly
// like the enrichment ingest; the gRPC receiver maps the same situations to gRPC codes.

interface ErrorSpec {
  readonly message: string;
  /** HTTP status on :4318 when this error reaches a client (500 for startup/config errors). */
  readonly status: number;
  /** gRPC status code on :4317 (13 INTERNAL for errors that never reach a client). */
  readonly grpcCode: number;
}

// gRPC codes, see https://grpc.github.io/grpc/core/md_doc_statuscodes.html
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const INTERNAL = 13;
const UNAVAILABLE = 14;

const errorCodes = {
  SEXTANT_TRACES_MALFORMED: {
    message: 'the request is not a valid ExportTraceServiceRequest; send OTLP protobuf (or OTLP/JSON on /v1/traces)',
    status: 400,
    grpcCode: INVALID_ARGUMENT,
  },
  SEXTANT_TRACES_OVER_CAPACITY: {
    message: 'too many bytes are waiting for export; retry after the delay in RetryInfo / Retry-After',
    status: 429,
    grpcCode: RESOURCE_EXHAUSTED,
  },
  SEXTANT_TRACES_QUEUE_FULL: {
    message: 'the durable queue is full; retry after the delay in RetryInfo / Retry-After',
    status: 429,
    grpcCode: RESOURCE_EXHAUSTED,
  },
  SEXTANT_TRACES_QUEUE_WRITE: {
    message: 'the durable queue could not store the spans',
    status: 503,
    grpcCode: UNAVAILABLE,
  },
  SEXTANT_TRACES_BACKEND_UNAVAILABLE: {
    message: 'the backend did not accept the spans (retryable); retry after the delay in RetryInfo / Retry-After',
    status: 503,
    grpcCode: UNAVAILABLE,
  },
  SEXTANT_TRACES_BACKEND_REJECTED: {
    message: 'the backend refused the spans permanently; they were not stored',
    status: 500,
    grpcCode: INTERNAL,
  },
  SEXTANT_TRACES_SHUTTING_DOWN: {
    message: 'the receiver is shutting down; retry against another replica',
    status: 503,
    grpcCode: UNAVAILABLE,
  },
  SEXTANT_TRACES_EXCLUDED: {
    message: 'spans of pods (or namespaces) carrying the exclusion annotation were dropped (partial success)',
    status: 200,
    grpcCode: 0,
  },
  SEXTANT_TRACES_CONFIG: {
    message: 'the trace receiver configuration is invalid',
    status: 500,
    grpcCode: INTERNAL,
  },
  SEXTANT_TRACES_TLS_FILE: {
    message: 'a TLS certificate, key or CA file cannot be read',
    status: 500,
    grpcCode: INTERNAL,
  },
  SEXTANT_TRACES_LISTEN: {
    message: 'a listener could not bind its address',
    status: 500,
    grpcCode: INTERNAL,
  },
  SEXTANT_TRACES_STATE: {
    message: 'the receiver is not in a state that allows this call',
    status: 500,
    grpcCode: INTERNAL,
  },
  SEXTANT_TRACES_USAGE: {
    message: 'command-line arguments are invalid; usage: sextant-trace-receiver --config <file.yaml>',
    status: 500,
    grpcCode: INTERNAL,
  },
} as const satisfies Record<string, ErrorSpec>;

type TraceReceiverErrorCode = keyof typeof errorCodes;

/** Error with a stable `.code` from the table above, its HTTP status and gRPC code. */
class TraceReceiverError extends Error {
  readonly code: TraceReceiverErrorCode;
  readonly status: number;
  readonly grpcCode: number;
  constructor(code: TraceReceiverErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = errorCodes[code];
    super(`${code}: ${detail ?? spec.message}`, options);
    this.name = 'TraceReceiverError';
    this.code = code;
    this.status = spec.status;
    this.grpcCode = spec.grpcCode;
  }
}

export { TraceReceiverError, errorCodes };
export type { ErrorSpec, TraceReceiverErrorCode };
