// Tiny hand-written protobuf/JSON encoders for the two OTLP response messages the ingest
// side sends: google.rpc.Status (code=1 int32, message=2 string, details=3 repeated Any; we
// never send details) and Export{Logs,Metrics,Trace}ServiceResponse (partial_success=1 with
// rejected_<items>=1 int64 and error_message=2 string). Both are a handful of bytes, so
// pulling a codec in for them buys nothing.
// see https://opentelemetry.io/docs/specs/otlp/#otlphttp-response

type OtlpSignal = 'logs' | 'metrics' | 'traces';
type OtlpFormat = 'protobuf' | 'json';

function varintLength(value: number): number {
  let n = 1;
  while (value >= 0x80) {
    value = Math.floor(value / 128);
    n++;
  }
  return n;
}

function writeVarint(buf: Buffer, pos: number, value: number): number {
  while (value >= 0x80) {
    buf[pos++] = (value & 0x7f) | 0x80;
    value = Math.floor(value / 128);
  }
  buf[pos++] = value;
  return pos;
}

/** Encodes google.rpc.Status { code, message } as protobuf. */
function encodeRpcStatusProto(code: number, message: string): Buffer {
  const msg = Buffer.from(message, 'utf8');
  // int32 negative values would need 10 bytes; gRPC codes are 0..16.
  const codeLen = code === 0 ? 0 : 1 + varintLength(code);
  const msgLen = msg.length === 0 ? 0 : 1 + varintLength(msg.length) + msg.length;
  const out = Buffer.allocUnsafe(codeLen + msgLen);
  let pos = 0;
  if (code !== 0) {
    out[pos++] = 0x08; // field 1, varint
    pos = writeVarint(out, pos, code);
  }
  if (msg.length !== 0) {
    out[pos++] = 0x12; // field 2, length-delimited
    pos = writeVarint(out, pos, msg.length);
    msg.copy(out, pos);
  }
  return out;
}

function encodeRpcStatus(code: number, message: string, format: OtlpFormat): Buffer {
  if (format === 'json') return Buffer.from(JSON.stringify({ code, message }), 'utf8');
  return encodeRpcStatusProto(code, message);
}

const REJECTED_JSON_FIELD: Record<OtlpSignal, string> = {
  logs: 'rejectedLogRecords',
  metrics: 'rejectedDataPoints',
  traces: 'rejectedSpans',
};

/** A partial success: some items were refused (rejected > 0) or the server has a warning. */
interface PartialSuccess {
  rejected: number;
  errorMessage: string;
}

/**
 * Encodes Export<Signal>ServiceResponse. Without a partial success the protobuf form is
 * empty and the JSON form is `{}`, as the spec asks for a full success.
 */
function encodeExportResponse(signal: OtlpSignal, format: OtlpFormat, partial?: PartialSuccess): Buffer {
  if (partial === undefined || (partial.rejected === 0 && partial.errorMessage === '')) {
    return format === 'json' ? Buffer.from('{}') : Buffer.alloc(0);
  }
  if (format === 'json') {
    // int64 is a string in the proto3 JSON mapping
    const body = { partialSuccess: { [REJECTED_JSON_FIELD[signal]]: String(partial.rejected), errorMessage: partial.errorMessage } };
    return Buffer.from(JSON.stringify(body), 'utf8');
  }
  const msg = Buffer.from(partial.errorMessage, 'utf8');
  const innerLen =
    (partial.rejected > 0 ? 1 + varintLength(partial.rejected) : 0) + (msg.length > 0 ? 1 + varintLength(msg.length) + msg.length : 0);
  const out = Buffer.allocUnsafe(1 + varintLength(innerLen) + innerLen);
  let pos = 0;
  out[pos++] = 0x0a; // field 1 partial_success, length-delimited
  pos = writeVarint(out, pos, innerLen);
  if (partial.rejected > 0) {
    out[pos++] = 0x08;
    pos = writeVarint(out, pos, partial.rejected);
  }
  if (msg.length > 0) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, msg.length);
    msg.copy(out, pos);
  }
  return out;
}

export { encodeExportResponse, encodeRpcStatus };
export type { OtlpFormat, OtlpSignal, PartialSuccess };
