// The one table of @sextant/enrichment error codes. Every code is documented in README.md
// (test/errors.test.ts checks that). Request rejections use the shared ingest codes
// (SEXTANT_INGEST_*) of @sextant/pipeline.

interface ErrorSpec {
  readonly message: string;
  /** HTTP status a server answers with when this error reaches a client. */
  readonly status: number;
}

const errorCodes = {
  SEXTANT_ENRICHMENT_USAGE: { message: 'command-line arguments are invalid', status: 500 },
  SEXTANT_ENRICHMENT_LISTEN: { message: 'the HTTP listener could not bind its address', status: 500 },
  SEXTANT_ENRICHMENT_STATE: { message: 'the service is not in a state that allows this call', status: 500 },
  SEXTANT_ENRICHMENT_TLS: { message: 'the listen.tls certificate, key or client CA file cannot be read', status: 500 },
  SEXTANT_ENRICHMENT_UNAUTHENTICATED: { message: 'the OTLP routes need a client certificate signed by listen.tls.clientCaFile', status: 401 },
} as const satisfies Record<string, ErrorSpec>;

type EnrichmentErrorCode = keyof typeof errorCodes;

/** Error with a stable `.code` from the table above. */
class EnrichmentError extends Error {
  readonly code: EnrichmentErrorCode;
  readonly status: number;
  constructor(code: EnrichmentErrorCode, detail?: string, options?: { cause?: unknown }) {
    const spec = errorCodes[code];
    super(`${code}: ${detail ?? spec.message}`, options);
    this.name = 'EnrichmentError';
    this.code = code;
    this.status = spec.status;
  }
}

export { EnrichmentError, errorCodes };
export type { EnrichmentErrorCode, ErrorSpec };
