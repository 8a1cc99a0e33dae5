// google.rpc.Status with one google.rpc.RetryInfo detail, for the `grpc-status-details-bin`
// trailer of RESOURCE_EXHAUSTED / UNAVAILABLE answers. The OTLP spec makes RESOURCE_EXHAUSTED
// retryable only when RetryInfo is present.
// see https://opentelemetry.io/docs/specs/otlp/#failures and google/rpc/{status,error_details}.proto:
//   Status { int32 code = 1; string message = 2; repeated google.protobuf.Any details = 3; }
//   Any { string type_url = 1; bytes value = 2; }
//   RetryInfo { google.protobuf.Duration retry_delay = 1; }  Duration { int64 seconds = 1; int32 nanos = 2; }
// Five tiny messages; hand-written rather than pulling a proto runtime into the hot path.

const RETRY_INFO_TYPE = 'type.googleapis.com/google.rpc.RetryInfo';

function varint(n: number): number[] {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return out;
}

function field(tag: number, payload: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from([tag, ...varint(payload.length)]), payload]);
}

function varintField(tag: number, n: number): Buffer {
  return n === 0 ? Buffer.alloc(0) : Buffer.from([tag, ...varint(n)]);
}

function encodeRetryInfo(retryAfterMs: number): Buffer {
  const ms = Math.max(0, Math.round(retryAfterMs));
  const duration = Buffer.concat([varintField(0x08, Math.floor(ms / 1000)), varintField(0x10, (ms % 1000) * 1_000_000)]);
  return field(0x0a, duration);
}

/** Status { code, message, details: [Any(RetryInfo)] } as protobuf bytes. */
function encodeStatusWithRetryInfo(code: number, message: string, retryAfterMs: number): Buffer {
  const any = Buffer.concat([field(0x0a, Buffer.from(RETRY_INFO_TYPE)), field(0x12, encodeRetryInfo(retryAfterMs))]);
  return Buffer.concat([varintField(0x08, code), field(0x12, Buffer.from(message, 'utf8')), field(0x1a, any)]);
}

export { RETRY_INFO_TYPE, encodeStatusWithRetryInfo };
