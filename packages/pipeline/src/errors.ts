// The one table of @sextant/pipeline error codes. Every code is documented in README.md
// (test/errors.test.ts checks that).

export interface ErrorSpec {
  readonly message: string;
  /** HTTP status a server should answer with when this error reaches a client. */
  readonly status: number;
}

export const errorCodes = {
  SEXTANT_CONFIG_INVALID: { message: 'configuration is invalid', status: 500 },
  SEXTANT_CONFIG_FILE_UNREADABLE: { message: 'configuration file cannot be read or parsed', status: 500 },
  SEXTANT_CONFIG_UNKNOWN_KEY: { message: 'configuration has a key the schema does not know', status: 500 },
  SEXTANT_PIPELINE_QUEUE_FULL: { message: 'durable queue is full', status: 429 },
  SEXTANT_PIPELINE_QUEUE_ITEM_TOO_LARGE: { message: 'item is larger than the queue can ever hold', status: 413 },
  SEXTANT_PIPELINE_QUEUE_CLOSED: { message: 'queue is closed', status: 503 },
  SEXTANT_PIPELINE_QUEUE_IO: { message: 'queue storage failed', status: 503 },
  SEXTANT_PIPELINE_QUEUE_UNKNOWN_ID: { message: 'no leased item has this id', status: 500 },
  SEXTANT_PIPELINE_EXPORT_HTTP_STATUS: { message: 'backend answered with an error status', status: 502 },
  SEXTANT_PIPELINE_EXPORT_NETWORK: { message: 'backend could not be reached', status: 503 },
  SEXTANT_PIPELINE_EXPORT_GRPC_STATUS: { message: 'backend answered with a gRPC error status', status: 502 },
  SEXTANT_PIPELINE_EXPORT_UNSUPPORTED_SIGNAL: { message: 'exporter does not handle this signal', status: 500 },
  SEXTANT_PIPELINE_EXPORT_TRANSFORM: { message: 'payload could not be transformed for the backend', status: 500 },
  SEXTANT_PIPELINE_EXPORT_RETRY_EXPIRED: { message: 'retries exceeded the maximum elapsed time', status: 503 },
  SEXTANT_PIPELINE_SECRET_UNREADABLE: { message: 'secret file or variable cannot be read', status: 500 },
  SEXTANT_PIPELINE_TLS_INVALID: { message: 'TLS material cannot be read', status: 500 },
  SEXTANT_PIPELINE_SHUTDOWN_TIMEOUT: { message: 'shutdown did not finish before the deadline', status: 500 },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof errorCodes;

/** Error with a stable `.code` from the table above and the HTTP status to map it to. */
export class SextantError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = errorCodes[code];
    super(`${code}: ${detail ?? spec.message}`, options);
    this.name = 'SextantError';
    this.code = code;
    this.status = spec.status;
  }
}

export function isSextantError(err: unknown, code?: ErrorCode): err is SextantError {
  return err instanceof SextantError && (code === undefined || err.code === code);
}
