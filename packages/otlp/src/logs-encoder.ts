// Direct ExportLogsServiceRequest writer for the node-collector: records go straight from the
// collector's Buffers into protobuf bytes without building message objects. Hand-written because
// the generated path costs an object graph per record (bench/README.md has the figures).
// Each record's size is computed first; ResourceLogs and ScopeLogs lengths are back-patched into
// a 5-byte reservation, and the content is shifted down when the varint turns out shorter.
import type { KeyValue, SizeList } from './kv.ts';
import { attrsSize, writeAttrs } from './kv.ts';
import { utf8Length, varintSize, writeUtf8, writeVarint } from './wire.ts';

export interface LogRecordInput {
  timeUnixNano: bigint;
  observedTimeUnixNano?: bigint;
  severityNumber?: number;
  severityText?: string;
  /**
   * A Uint8Array is written as the body's string_value and MUST be valid UTF-8 (it is not checked);
   * `{ bytes }` is written as bytes_value (use it for data that may not be UTF-8).
   */
  body: Uint8Array | { bytes: Uint8Array };
  /**
   * Encoded once per array and cached by identity, so pass the same (unchanged) array for records
   * that share attributes; do not mutate an array after passing it.
   */
  attributes?: readonly KeyValue[];
  droppedAttributesCount?: number;
  flags?: number;
  traceId?: Uint8Array;
  spanId?: Uint8Array;
  eventName?: string;
}

export interface LogsEncoder {
  /** Starts a new ResourceLogs (closing the open one). */
  beginResource(attrs: readonly KeyValue[], schemaUrl?: string): void;
  /** Starts a new ScopeLogs in the open resource (opening an empty resource if none). */
  beginScope(name?: string, version?: string, schemaUrl?: string): void;
  /** Appends one LogRecord to the open scope (opening an empty scope if none). */
  addRecord(rec: LogRecordInput): void;
  /** Returns the request bytes (a copy) and resets the encoder for the next batch. */
  finish(): Uint8Array;
  /** Discards everything written since the last finish(). */
  reset(): void;
  /** Records added since the last finish()/reset(). */
  readonly recordCount: number;
  /** Bytes written so far (before back-patching). */
  readonly byteLength: number;
}

const RESERVE = 5;

class LogsEncoderImpl implements LogsEncoder {
  private buf: Uint8Array;
  private dv: DataView;
  private pos = 0;
  private resourceAt = -1;
  private resourceSchemaUrl = '';
  private scopeAt = -1;
  private scopeSchemaUrl = '';
  private records = 0;
  private lastSevText = '';
  private lastSevLen = 0;
  private readonly sizes: SizeList = { sizes: [], i: 0 };
  // Encoded record attributes by array identity: a collector passes the same few arrays
  // (e.g. [log.iostream=stdout]) for every record, so each is encoded once.
  private readonly attrCache = new WeakMap<readonly KeyValue[], Uint8Array>();

  private encodedAttrs(attrs: readonly KeyValue[]): Uint8Array {
    let enc = this.attrCache.get(attrs);
    if (enc === undefined) {
      const s: SizeList = { sizes: [], i: 0 };
      enc = new Uint8Array(attrsSize(attrs, s));
      writeAttrs(enc, 0, 0x32, attrs, s); // LogRecord.attributes
      this.attrCache.set(attrs, enc);
    }
    return enc;
  }

  constructor(initialSize: number) {
    this.buf = new Uint8Array(initialSize);
    this.dv = new DataView(this.buf.buffer);
  }

  get recordCount(): number {
    return this.records;
  }

  get byteLength(): number {
    return this.pos;
  }

  private ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
    this.dv = new DataView(next.buffer);
  }

  private writeStringField(tag: number, s: string): void {
    const n = utf8Length(s);
    this.ensure(1 + 5 + n);
    this.buf[this.pos++] = tag;
    this.pos = writeVarint(this.buf, this.pos, n);
    this.pos = writeUtf8(this.buf, this.pos, s);
  }

  /** Writes the final length at `at` (a 5-byte reservation) and shifts the content down to fit. */
  private close(at: number): void {
    const start = at + RESERVE;
    const len = this.pos - start;
    const vs = varintSize(len);
    writeVarint(this.buf, at, len);
    if (vs < RESERVE) {
      this.buf.copyWithin(at + vs, start, this.pos);
      this.pos -= RESERVE - vs;
    }
  }

  private closeScope(): void {
    if (this.scopeAt < 0) return;
    if (this.scopeSchemaUrl !== '') this.writeStringField(0x1a, this.scopeSchemaUrl);
    this.close(this.scopeAt);
    this.scopeAt = -1;
  }

  private closeResource(): void {
    this.closeScope();
    if (this.resourceAt < 0) return;
    if (this.resourceSchemaUrl !== '') this.writeStringField(0x1a, this.resourceSchemaUrl);
    this.close(this.resourceAt);
    this.resourceAt = -1;
  }

  beginResource(attrs: readonly KeyValue[], schemaUrl = ''): void {
    this.closeResource();
    const s = this.sizes;
    s.sizes.length = 0;
    s.i = 0;
    const inner = attrsSize(attrs, s);
    this.ensure(1 + RESERVE + 1 + 5 + inner);
    const buf = this.buf;
    buf[this.pos++] = 0x0a; // ExportLogsServiceRequest.resource_logs
    this.resourceAt = this.pos;
    this.pos += RESERVE;
    this.resourceSchemaUrl = schemaUrl;
    if (attrs.length > 0) {
      buf[this.pos++] = 0x0a; // ResourceLogs.resource
      this.pos = writeVarint(buf, this.pos, inner);
      this.pos = writeAttrs(buf, this.pos, 0x0a, attrs, s);
    }
  }

  beginScope(name = '', version = '', schemaUrl = ''): void {
    if (this.resourceAt < 0) this.beginResource([]);
    else this.closeScope();
    this.ensure(1 + RESERVE);
    this.buf[this.pos++] = 0x12; // ResourceLogs.scope_logs
    this.scopeAt = this.pos;
    this.pos += RESERVE;
    this.scopeSchemaUrl = schemaUrl;
    if (name !== '' || version !== '') {
      const nl = name === '' ? 0 : utf8Length(name);
      const vl = version === '' ? 0 : utf8Length(version);
      const inner = (nl > 0 ? 1 + varintSize(nl) + nl : 0) + (vl > 0 ? 1 + varintSize(vl) + vl : 0);
      this.ensure(1 + 5 + inner);
      this.buf[this.pos++] = 0x0a; // ScopeLogs.scope
      this.pos = writeVarint(this.buf, this.pos, inner);
      if (nl > 0) this.writeStringField(0x0a, name);
      if (vl > 0) this.writeStringField(0x12, version);
    }
  }

  addRecord(rec: LogRecordInput): void {
    if (this.scopeAt < 0) this.beginScope();
    const isStr = rec.body instanceof Uint8Array;
    const body = rec.body instanceof Uint8Array ? rec.body : rec.body.bytes;
    const bodyAny = 1 + varintSize(body.length) + body.length;
    let size = 1 + varintSize(bodyAny) + bodyAny;
    if (rec.timeUnixNano !== 0n) size += 9;
    const obs = rec.observedTimeUnixNano;
    if (obs !== undefined && obs !== 0n) size += 9;
    const sev = rec.severityNumber ?? 0;
    if (sev !== 0) size += 1 + varintSize(sev);
    const sevText = rec.severityText ?? '';
    let sevLen = 0;
    if (sevText !== '') {
      if (sevText !== this.lastSevText) {
        this.lastSevText = sevText;
        this.lastSevLen = utf8Length(sevText);
      }
      sevLen = this.lastSevLen;
    }
    if (sevLen > 0) size += 1 + varintSize(sevLen) + sevLen;
    const attrs = rec.attributes === undefined || rec.attributes.length === 0 ? undefined : this.encodedAttrs(rec.attributes);
    if (attrs !== undefined) size += attrs.length;
    const dropped = rec.droppedAttributesCount ?? 0;
    if (dropped !== 0) size += 1 + varintSize(dropped);
    const flags = rec.flags ?? 0;
    if (flags !== 0) size += 5;
    const traceId = rec.traceId;
    if (traceId !== undefined && traceId.length > 0) size += 1 + varintSize(traceId.length) + traceId.length;
    const spanId = rec.spanId;
    if (spanId !== undefined && spanId.length > 0) size += 1 + varintSize(spanId.length) + spanId.length;
    const eventName = rec.eventName ?? '';
    const evLen = eventName === '' ? 0 : utf8Length(eventName);
    if (evLen > 0) size += 1 + varintSize(evLen) + evLen;

    this.ensure(1 + 5 + size);
    const buf = this.buf;
    let pos = this.pos;
    buf[pos++] = 0x12; // ScopeLogs.log_records
    pos = writeVarint(buf, pos, size);
    if (rec.timeUnixNano !== 0n) {
      buf[pos] = 0x09; // time_unix_nano, fixed64
      this.dv.setBigUint64(pos + 1, rec.timeUnixNano, true);
      pos += 9;
    }
    if (sev !== 0) {
      buf[pos++] = 0x10; // severity_number
      pos = writeVarint(buf, pos, sev);
    }
    if (sevLen > 0) {
      buf[pos++] = 0x1a; // severity_text
      pos = writeVarint(buf, pos, sevLen);
      pos = writeUtf8(buf, pos, sevText);
    }
    buf[pos++] = 0x2a; // body
    pos = writeVarint(buf, pos, bodyAny);
    buf[pos++] = isStr ? 0x0a : 0x3a; // AnyValue.string_value or bytes_value
    pos = writeVarint(buf, pos, body.length);
    buf.set(body, pos);
    pos += body.length;
    if (attrs !== undefined) {
      buf.set(attrs, pos);
      pos += attrs.length;
    }
    if (dropped !== 0) {
      buf[pos++] = 0x38;
      pos = writeVarint(buf, pos, dropped);
    }
    if (flags !== 0) {
      buf[pos] = 0x45; // flags, fixed32
      this.dv.setUint32(pos + 1, flags, true);
      pos += 5;
    }
    if (traceId !== undefined && traceId.length > 0) {
      buf[pos++] = 0x4a;
      pos = writeVarint(buf, pos, traceId.length);
      buf.set(traceId, pos);
      pos += traceId.length;
    }
    if (spanId !== undefined && spanId.length > 0) {
      buf[pos++] = 0x52;
      pos = writeVarint(buf, pos, spanId.length);
      buf.set(spanId, pos);
      pos += spanId.length;
    }
    if (obs !== undefined && obs !== 0n) {
      buf[pos] = 0x59; // observed_time_unix_nano, fixed64
      this.dv.setBigUint64(pos + 1, obs, true);
      pos += 9;
    }
    if (evLen > 0) {
      buf[pos++] = 0x62;
      pos = writeVarint(buf, pos, evLen);
      pos = writeUtf8(buf, pos, eventName);
    }
    this.pos = pos;
    this.records++;
  }

  finish(): Uint8Array {
    this.closeResource();
    // allocUnsafeSlow: the copy overwrites every byte, so skip zero-filling; never pooled
    const slow = Buffer.allocUnsafeSlow(this.pos);
    const out = new Uint8Array(slow.buffer, slow.byteOffset, this.pos);
    out.set(this.buf.subarray(0, this.pos));
    this.reset();
    return out;
  }

  reset(): void {
    this.pos = 0;
    this.resourceAt = -1;
    this.scopeAt = -1;
    this.resourceSchemaUrl = '';
    this.scopeSchemaUrl = '';
    this.records = 0;
  }
}

export interface LogsEncoderOptions {
  /** Initial buffer size in bytes; the buffer doubles as needed and is reused. Default 64 KiB. */
  initialSize?: number;
}

export function createLogsEncoder(options: LogsEncoderOptions = {}): LogsEncoder {
  return new LogsEncoderImpl(Math.max(64, options.initialSize ?? 65536));
}
