// The one error table of @sextant/otlp (STYLE.md "Coded errors").
// Every decode, splice and readResources failure is an OtlpDecodeError with one of these codes.

export const OTLP_ERRORS = {
  SEXTANT_OTLP_TRUNCATED: { status: 400, message: 'the data ends inside a field (a varint, a fixed-width value or a tag); send the complete protobuf message' },
  SEXTANT_OTLP_LENGTH: { status: 400, message: 'a length prefix points past the end of its enclosing message; lengths must fit in the bytes that follow' },
  SEXTANT_OTLP_VARINT: { status: 400, message: 'a varint is longer than 10 bytes or overflows 64 bits; varints are at most 10 bytes' },
  SEXTANT_OTLP_TAG: { status: 400, message: 'a field tag has field number 0 or above 536870911; valid field numbers are 1..536870911' },
  SEXTANT_OTLP_WIRE_TYPE: { status: 400, message: 'a wire type is invalid (6 or 7), a group is unbalanced, or a known field has a wire type its type does not allow' },
  SEXTANT_OTLP_DEPTH: { status: 400, message: 'values nest too deeply (AnyValue array/kvlist nesting, unknown groups or JSON nesting); the limit is 64 AnyValue levels' },
  SEXTANT_OTLP_UTF8: { status: 400, message: 'a string field holds invalid UTF-8; protobuf strings must be valid UTF-8 (send such data as bytes)' },
  SEXTANT_OTLP_JSON: { status: 400, message: 'the OTLP/JSON body is not valid JSON or does not match the OTLP/JSON mapping' },
  SEXTANT_OTLP_INVALID: { status: 400, message: 'the message is not a valid OTLP message' },
  SEXTANT_OTLP_SIGNAL: { status: 400, message: "the signal is unknown; valid signals are 'logs', 'metrics' and 'traces'" },
} as const satisfies Record<string, { status: number; message: string }>;

export type OtlpErrorCode = keyof typeof OTLP_ERRORS;

class OtlpDecodeErrorImpl extends Error {
  readonly code: OtlpErrorCode;
  readonly status: number;
  /** Byte offset (protobuf) where the problem was found, when known. */
  readonly offset: number | undefined;

  constructor(code: OtlpErrorCode, detail?: string, offset?: number, options?: ErrorOptions) {
    const base = OTLP_ERRORS[code].message;
    const where = offset === undefined ? '' : ` (at byte ${offset})`;
    super(`${code}: ${detail === undefined ? base : `${detail}; ${base}`}${where}`, options);
    this.name = 'OtlpDecodeError';
    this.code = code;
    this.status = OTLP_ERRORS[code].status;
    this.offset = offset;
  }
}

/** The typed error thrown for bad OTLP input; check `err instanceof OtlpDecodeError` and `err.code`. */
export const OtlpDecodeError = OtlpDecodeErrorImpl;
export type OtlpDecodeError = OtlpDecodeErrorImpl;

export function otlpError(code: OtlpErrorCode, detail?: string, offset?: number, cause?: unknown): OtlpDecodeError {
  return new OtlpDecodeErrorImpl(code, detail, offset, cause === undefined ? undefined : { cause });
}
