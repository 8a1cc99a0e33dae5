// Direct protobuf encoder for one OTLP ExportLogsServiceRequest holding one ResourceLogs with one ScopeLogs.
// Records are encoded as they arrive (the body is copied once, from the read buffer into the batch), so a batch
// never holds per-record JS objects. This is the seam where @sextant/otlp's createLogsEncoder() plugs in.
// Field numbers: opentelemetry-proto logs/v1/logs.proto, common/v1/common.proto.
import type { Stream } from './parser.ts';

type AttrValue = string | number | boolean;

interface RecordInput {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  body: Uint8Array;
  stream: Stream | undefined;
  truncated: boolean;
  parseError: boolean;
  invalidUtf8: boolean;
}

/** Builds the body of one POST: the records of one container file, under that file's resource. */
interface BatchEncoder {
  add(r: RecordInput): void;
  readonly records: number;
  readonly bytes: number;
  finish(): Uint8Array;
}

class Writer {
  buf: Buffer;
  len = 0;
  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(size);
  }
  ensure(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const grown = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }
  byte(b: number): void {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  varint(v: number): void {
    this.ensure(10);
    while (v > 127) {
      this.buf[this.len++] = (v & 127) | 128;
      v = Math.floor(v / 128);
    }
    this.buf[this.len++] = v;
  }
  fixed64(v: bigint): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt.asUintN(64, v), this.len);
    this.len += 8;
  }
  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
}

function varintSize(v: number): number {
  let n = 1;
  while (v > 127) {
    v = Math.floor(v / 128);
    n++;
  }
  return n;
}

function encodeAnyValue(v: AttrValue): Buffer {
  const w = new Writer(64);
  if (typeof v === 'string') {
    const b = Buffer.from(v, 'utf8');
    w.byte(0x0a);
    w.varint(b.length);
    w.bytes(b);
  } else if (typeof v === 'boolean') {
    w.byte(0x10);
    w.byte(v ? 1 : 0);
  } else {
    w.byte(0x18); // int_value, int64 varint; non-negative ints only here
    w.varint(Math.max(0, Math.trunc(v)));
  }
  return w.buf.subarray(0, w.len);
}

/** Encodes a KeyValue message (without its own tag). */
function encodeKeyValue(key: string, v: AttrValue): Buffer {
  const k = Buffer.from(key, 'utf8');
  const val = encodeAnyValue(v);
  const w = new Writer(k.length + val.length + 8);
  w.byte(0x0a);
  w.varint(k.length);
  w.bytes(k);
  w.byte(0x12);
  w.varint(val.length);
  w.bytes(val);
  return w.buf.subarray(0, w.len);
}

/** `field 6 (attributes)` tag + length + KeyValue, ready to copy into a LogRecord. */
function attrField(key: string, v: AttrValue): Buffer {
  const kv = encodeKeyValue(key, v);
  const w = new Writer(kv.length + 6);
  w.byte(0x32);
  w.varint(kv.length);
  w.bytes(kv);
  return w.buf.subarray(0, w.len);
}

const ATTR_STDOUT = attrField('log.iostream', 'stdout');
const ATTR_STDERR = attrField('log.iostream', 'stderr');
const ATTR_TRUNCATED = attrField('log.record.truncated', true);
const ATTR_PARSE_ERROR = attrField('log.parse.error', true);
const ATTR_INVALID_UTF8 = attrField('log.record.invalid_utf8', true);

/** Encodes `Resource` + `InstrumentationScope` once per file; each batch reuses the bytes. */
function encodeResourceHeader(resource: Record<string, AttrValue>, scopeName: string, scopeVersion: string): Buffer {
  const res = new Writer(512);
  for (const [k, v] of Object.entries(resource)) {
    const kv = encodeKeyValue(k, v);
    res.byte(0x0a);
    res.varint(kv.length);
    res.bytes(kv);
  }
  const scope = new Writer(64);
  for (const [field, s] of [[0x0a, scopeName], [0x12, scopeVersion]] as const) {
    const b = Buffer.from(s, 'utf8');
    scope.byte(field);
    scope.varint(b.length);
    scope.bytes(b);
  }
  const out = new Writer(res.len + scope.len + 16);
  out.byte(0x0a); // ResourceLogs.resource
  out.varint(res.len);
  out.bytes(res.buf.subarray(0, res.len));
  // ScopeLogs tag/length is written at finish; here only the scope field inside it
  const scopeField = new Writer(scope.len + 6);
  scopeField.byte(0x0a);
  scopeField.varint(scope.len);
  scopeField.bytes(scope.buf.subarray(0, scope.len));
  return Buffer.concat([out.buf.subarray(0, out.len), scopeField.buf.subarray(0, scopeField.len)]);
}

class ProtoBatchEncoder implements BatchEncoder {
  records = 0;
  private readonly w: Writer;
  private readonly header: Buffer;
  constructor(header: Buffer, initialBytes: number) {
    this.header = header;
    this.w = new Writer(initialBytes);
  }
  get bytes(): number {
    return this.w.len;
  }
  add(r: RecordInput): void {
    const b = r.body;
    const anyLen = 1 + varintSize(b.length) + b.length;
    let len = 9 + 9 + 1 + varintSize(anyLen) + anyLen;
    const s = r.stream === 'stdout' ? ATTR_STDOUT : r.stream === 'stderr' ? ATTR_STDERR : undefined;
    if (s !== undefined) len += s.length;
    if (r.truncated) len += ATTR_TRUNCATED.length;
    if (r.parseError) len += ATTR_PARSE_ERROR.length;
    if (r.invalidUtf8) len += ATTR_INVALID_UTF8.length;
    const w = this.w;
    w.ensure(len + 6);
    w.byte(0x12); // ScopeLogs.log_records
    w.varint(len);
    w.byte(0x09); // time_unix_nano
    w.fixed64(r.timeUnixNano);
    w.byte(0x59); // observed_time_unix_nano (11)
    w.fixed64(r.observedTimeUnixNano);
    w.byte(0x2a); // body
    w.varint(anyLen);
    w.byte(0x0a); // AnyValue.string_value: `body` is valid UTF-8
    w.varint(b.length);
    w.bytes(b);
    if (s !== undefined) w.bytes(s);
    if (r.truncated) w.bytes(ATTR_TRUNCATED);
    if (r.parseError) w.bytes(ATTR_PARSE_ERROR);
    if (r.invalidUtf8) w.bytes(ATTR_INVALID_UTF8);
    this.records++;
  }
  finish(): Uint8Array {
    const scopeLen = this.header.length - this.resourcePartLength() + this.w.len;
    const scopeTagged = 1 + varintSize(scopeLen) + scopeLen;
    const rlLen = this.resourcePartLength() + scopeTagged;
    const out = new Writer(rlLen + 12);
    out.byte(0x0a); // ExportLogsServiceRequest.resource_logs
    out.varint(rlLen);
    out.bytes(this.header.subarray(0, this.resourcePartLength()));
    out.byte(0x12); // ResourceLogs.scope_logs
    out.varint(scopeLen);
    out.bytes(this.header.subarray(this.resourcePartLength()));
    out.bytes(this.w.buf.subarray(0, this.w.len));
    return out.buf.subarray(0, out.len);
  }
  private resourcePartLength(): number {
    // header = [0x0a len resource][0x0a len scope]; the first field's total size
    let len = 0;
    let shift = 0;
    let i = 1;
    for (;;) {
      const b = this.header[i++] ?? 0;
      len += (b & 127) * 2 ** shift;
      if (b < 128) break;
      shift += 7;
    }
    return i + len;
  }
}

function createBatchEncoder(header: Buffer, initialBytes = 64 * 1024): BatchEncoder {
  return new ProtoBatchEncoder(header, initialBytes);
}

export { createBatchEncoder, encodeResourceHeader };
export type { BatchEncoder, RecordInput, AttrValue };
