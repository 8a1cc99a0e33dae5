// Protobuf wire-format primitives shared by the validator, the splice and the encoders.
// Hand-written because the splice must walk only the outer levels of a request without
// decoding scopes and records (ARCHITECTURE.md "Resource-level splice").
import { ScalarType } from '@bufbuild/protobuf';
import type { DescMessage } from '@bufbuild/protobuf';
import { otlpError } from './errors.ts';

export const WT_VARINT = 0;
export const WT_I64 = 1;
export const WT_LEN = 2;
export const WT_SGROUP = 3;
export const WT_EGROUP = 4;
export const WT_I32 = 5;

/** AnyValue array/kvlist nesting limit; deeper input fails with SEXTANT_OTLP_DEPTH. */
export const MAX_ANYVALUE_DEPTH = 64;
/** Nesting limit for unknown groups and for any message nesting overall. */
export const MAX_MESSAGE_DEPTH = 256;

/**
 * Cursor over a byte range. Every read checks bounds before touching or allocating anything.
 * Positions are absolute offsets into `buf`.
 */
export class Reader {
  buf: Uint8Array;
  pos: number;
  end: number;

  constructor(buf: Uint8Array, pos = 0, end = buf.length) {
    this.buf = buf;
    this.pos = pos;
    this.end = end;
  }

  /** Reads a varint that must fit in 32 bits unsigned (tags, lengths); larger values are rejected. */
  uint32(): number {
    const buf = this.buf;
    let pos = this.pos;
    const end = this.end;
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 10; i++) {
      if (pos >= end) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'varint cut off', pos);
      const b = buf[pos++]!;
      if (shift < 28) {
        result |= (b & 0x7f) << shift;
      } else if (shift === 28) {
        // bits 28..34; anything above bit 31 does not fit
        if ((b & 0x70) !== 0) throw otlpError('SEXTANT_OTLP_LENGTH', 'length or tag above 2^32-1', this.pos);
        result = (result >>> 0) + (b & 0x0f) * 0x10000000;
      } else if ((b & 0x7f) !== 0) {
        throw otlpError('SEXTANT_OTLP_LENGTH', 'length or tag above 2^32-1', this.pos);
      }
      shift += 7;
      if (b < 0x80) {
        this.pos = pos;
        return result;
      }
    }
    throw otlpError('SEXTANT_OTLP_VARINT', undefined, this.pos);
  }

  /** Skips a varint of any 64-bit value. */
  skipVarint(): void {
    const buf = this.buf;
    let pos = this.pos;
    for (let i = 0; i < 10; i++) {
      if (pos >= this.end) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'varint cut off', pos);
      const b = buf[pos++]!;
      if (b < 0x80) {
        // the 10th byte may only carry bit 63
        if (i === 9 && b > 1) throw otlpError('SEXTANT_OTLP_VARINT', undefined, this.pos);
        this.pos = pos;
        return;
      }
    }
    throw otlpError('SEXTANT_OTLP_VARINT', undefined, this.pos);
  }

  /** Reads a tag; returns fieldNumber * 8 + wireType (as a plain number). */
  tag(): number {
    const start = this.pos;
    const t = this.uint32();
    const field = Math.floor(t / 8);
    if (field === 0 || field > 0x1fffffff) throw otlpError('SEXTANT_OTLP_TAG', `field number ${field}`, start);
    return t;
  }

  /** Reads a length prefix and returns the end offset of the payload, checked against `end`. */
  lenEnd(): number {
    const start = this.pos;
    const n = this.uint32();
    if (n > this.end - this.pos) {
      throw otlpError('SEXTANT_OTLP_LENGTH', `length ${n} but only ${this.end - this.pos} bytes left`, start);
    }
    return this.pos + n;
  }

  /** Skips the value of a field with the given wire type (groups are skipped to their end tag). */
  skip(wireType: number, fieldNo: number, depth = 0): void {
    switch (wireType) {
      case WT_VARINT:
        this.skipVarint();
        return;
      case WT_I64:
        if (this.end - this.pos < 8) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'fixed64 cut off', this.pos);
        this.pos += 8;
        return;
      case WT_I32:
        if (this.end - this.pos < 4) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'fixed32 cut off', this.pos);
        this.pos += 4;
        return;
      case WT_LEN:
        this.pos = this.lenEnd();
        return;
      case WT_SGROUP: {
        if (depth >= MAX_MESSAGE_DEPTH) throw otlpError('SEXTANT_OTLP_DEPTH', 'groups nest too deeply', this.pos);
        for (;;) {
          const t = this.tag();
          const wt = t & 7;
          const fn = Math.floor(t / 8);
          if (wt === WT_EGROUP) {
            if (fn !== fieldNo) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `group ${fieldNo} closed by end tag ${fn}`, this.pos);
            return;
          }
          this.skip(wt, fn, depth + 1);
        }
      }
      default:
        throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `wire type ${wireType} for field ${fieldNo}`, this.pos);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Validator: a schema-guided walk run before @bufbuild/protobuf parses a request, so that all
// structural problems surface as typed errors and AnyValue nesting is capped without recursion
// into the third-party decoder.

const K_UNKNOWN = 0;
const K_VARINT = 1;
const K_I64 = 2;
const K_I32 = 3;
const K_STRING = 4;
const K_BYTES = 5;
const K_MESSAGE = 6;

interface Plan {
  /** kind per field number (index); K_UNKNOWN when absent */
  kinds: Uint8Array;
  /** true where a repeated numeric field may also come packed (LEN) */
  packable: Uint8Array;
  children: (Plan | undefined)[];
  anyValue: boolean;
}

const plans = new WeakMap<DescMessage, Plan>();

function scalarKind(t: ScalarType): number {
  switch (t) {
    case ScalarType.DOUBLE:
    case ScalarType.FIXED64:
    case ScalarType.SFIXED64:
      return K_I64;
    case ScalarType.FLOAT:
    case ScalarType.FIXED32:
    case ScalarType.SFIXED32:
      return K_I32;
    case ScalarType.STRING:
      return K_STRING;
    case ScalarType.BYTES:
      return K_BYTES;
    default:
      return K_VARINT;
  }
}

function planFor(desc: DescMessage): Plan {
  const cached = plans.get(desc);
  if (cached) return cached;
  let max = 0;
  for (const f of desc.fields) max = Math.max(max, f.number);
  const plan: Plan = {
    kinds: new Uint8Array(max + 1),
    packable: new Uint8Array(max + 1),
    children: new Array<Plan | undefined>(max + 1).fill(undefined),
    anyValue: desc.typeName === 'opentelemetry.proto.common.v1.AnyValue',
  };
  plans.set(desc, plan);
  for (const f of desc.fields) {
    switch (f.fieldKind) {
      case 'scalar':
        plan.kinds[f.number] = scalarKind(f.scalar);
        break;
      case 'enum':
        plan.kinds[f.number] = K_VARINT;
        break;
      case 'message':
        plan.kinds[f.number] = K_MESSAGE;
        plan.children[f.number] = planFor(f.message);
        break;
      case 'list':
        if (f.listKind === 'message') {
          plan.kinds[f.number] = K_MESSAGE;
          plan.children[f.number] = planFor(f.message);
        } else if (f.listKind === 'enum') {
          plan.kinds[f.number] = K_VARINT;
          plan.packable[f.number] = 1;
        } else {
          const k = scalarKind(f.scalar);
          plan.kinds[f.number] = k;
          if (k !== K_STRING && k !== K_BYTES) plan.packable[f.number] = 1;
        }
        break;
      case 'map':
        // OTLP has no map fields; treat as opaque length-delimited
        plan.kinds[f.number] = K_BYTES;
        break;
    }
  }
  return plan;
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function checkUtf8(buf: Uint8Array, start: number, end: number): void {
  // ASCII fast path: most OTLP strings are short ASCII
  for (let i = start; i < end; i++) {
    if (buf[i]! >= 0x80) {
      try {
        utf8.decode(buf.subarray(i, end));
      } catch (err) {
        throw otlpError('SEXTANT_OTLP_UTF8', undefined, start, err);
      }
      return;
    }
  }
}

function validateMessage(r: Reader, end: number, plan: Plan, anyDepth: number, depth: number): void {
  if (depth > MAX_MESSAGE_DEPTH) throw otlpError('SEXTANT_OTLP_DEPTH', 'messages nest too deeply', r.pos);
  if (plan.anyValue && anyDepth > MAX_ANYVALUE_DEPTH) {
    throw otlpError('SEXTANT_OTLP_DEPTH', `AnyValue nesting above ${MAX_ANYVALUE_DEPTH}`, r.pos);
  }
  const saveEnd = r.end;
  r.end = end;
  const kinds = plan.kinds;
  while (r.pos < end) {
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    const kind = fn < kinds.length ? kinds[fn]! : K_UNKNOWN;
    switch (kind) {
      case K_UNKNOWN:
        r.skip(wt, fn);
        break;
      case K_VARINT:
      case K_I64:
      case K_I32: {
        const want = kind === K_VARINT ? WT_VARINT : kind === K_I64 ? WT_I64 : WT_I32;
        if (wt === want) {
          r.skip(wt, fn);
        } else if (wt === WT_LEN && plan.packable[fn] === 1) {
          const pe = r.lenEnd();
          if (kind === K_VARINT) {
            const saved = r.end;
            r.end = pe;
            while (r.pos < pe) r.skipVarint();
            r.end = saved;
          } else {
            const width = kind === K_I64 ? 8 : 4;
            if ((pe - r.pos) % width !== 0) throw otlpError('SEXTANT_OTLP_LENGTH', `packed field ${fn} length is not a multiple of ${width}`, r.pos);
            r.pos = pe;
          }
        } else {
          throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `field ${fn} has wire type ${wt}, expected ${want}`, r.pos);
        }
        break;
      }
      case K_STRING: {
        if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `string field ${fn} has wire type ${wt}`, r.pos);
        const pe = r.lenEnd();
        checkUtf8(r.buf, r.pos, pe);
        r.pos = pe;
        break;
      }
      case K_BYTES:
        if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `bytes field ${fn} has wire type ${wt}`, r.pos);
        r.pos = r.lenEnd();
        break;
      default: {
        if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `message field ${fn} has wire type ${wt}`, r.pos);
        const pe = r.lenEnd();
        const child = plan.children[fn]!;
        validateMessage(r, pe, child, child.anyValue ? anyDepth + 1 : anyDepth, depth + 1);
        break;
      }
    }
  }
  r.end = saveEnd;
}

/** Walks `bytes` as a `desc` message; throws OtlpDecodeError on the first structural problem. */
export function validateWire(bytes: Uint8Array, desc: DescMessage): void {
  const r = new Reader(bytes);
  validateMessage(r, bytes.length, planFor(desc), 0, 0);
}

// ---------------------------------------------------------------------------------------------
// Writing helpers

export function varintSize(n: number): number {
  if (n < 0x80) return 1;
  if (n < 0x4000) return 2;
  if (n < 0x200000) return 3;
  if (n < 0x10000000) return 4;
  return 5;
}

/** Reads an unsigned varint at `pos` (below `end`) without throwing: [value, next position], or undefined when truncated or above 2^49. */
export function readVarintAt(buf: Uint8Array, pos: number, end: number): [value: number, next: number] | undefined {
  let value = 0;
  let mul = 1;
  while (pos < end) {
    const b = buf[pos++] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return [value, pos];
    mul *= 128;
    if (mul > 2 ** 49) return undefined;
  }
  return undefined;
}

/** The one-byte `tag` and the varint `length` that open a length-delimited field. */
export function fieldHead(tag: number, length: number): Uint8Array {
  const out = new Uint8Array(1 + varintSize(length));
  out[0] = tag;
  writeVarint(out, 1, length);
  return out;
}

/** Writes an unsigned 32-bit varint; returns the new position. */
export function writeVarint(out: Uint8Array, pos: number, n: number): number {
  while (n > 0x7f) {
    out[pos++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[pos++] = n;
  return pos;
}

/** UTF-8 byte length of a JS string (lone surrogates count as U+FFFD, 3 bytes, as TextEncoder writes them). */
export function utf8Length(s: string): number {
  const n = s.length;
  let len = n;
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) {
      len += 1;
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < n) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        len += 2; // 4 bytes for 2 UTF-16 units
        i++;
      } else {
        len += 2;
      }
    } else {
      len += 2;
    }
  }
  return len;
}

const encoder = new TextEncoder();

/** Writes `s` as UTF-8 at `pos` (exactly utf8Length(s) bytes); returns the new position. */
export function writeUtf8(out: Uint8Array, pos: number, s: string): number {
  const n = s.length;
  if (n < 48) {
    let p = pos;
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) return pos + encoder.encodeInto(s, out.subarray(pos)).written;
      out[p++] = c;
    }
    return p;
  }
  return pos + encoder.encodeInto(s, out.subarray(pos)).written;
}
