// Plain KeyValue/AnyValue types for resource attributes, with a hand-written wire codec.
// The splice and the direct log encoder use these instead of the generated message classes:
// callers mostly set string attributes, and a plain `{ key, value: 'x' }` is both cheaper to
// build and cheaper to encode than a generated message (see bench/README.md).
import { create } from '@bufbuild/protobuf';
import type { AnyValue as PbAnyValue, KeyValue as PbKeyValue } from './gen/opentelemetry/proto/common/v1/common_pb.ts';
import { AnyValueSchema, ArrayValueSchema, KeyValueListSchema, KeyValueSchema } from './gen/opentelemetry/proto/common/v1/common_pb.ts';
import { otlpError } from './errors.ts';
import type { Reader} from './wire.ts';
import { MAX_ANYVALUE_DEPTH, WT_I64, WT_LEN, WT_VARINT, utf8Length, varintSize, writeUtf8, writeVarint } from './wire.ts';

/**
 * An OTLP AnyValue:
 * string → string_value, boolean → bool_value, number → double_value, bigint → int_value,
 * Uint8Array → bytes_value, array → array_value, `{ kvlist }` → kvlist_value,
 * `{ strindex }` → string_value_strindex, null → an AnyValue with no value set.
 */
export type AnyValue = string | boolean | number | bigint | Uint8Array | readonly AnyValue[] | KvListValue | StrIndexValue | null;

export interface KvListValue {
  readonly kvlist: readonly KeyValue[];
}

export interface StrIndexValue {
  readonly strindex: number;
}

/** An OTLP KeyValue. `value` is absent when the KeyValue carries no value field at all. */
export interface KeyValue {
  readonly key: string;
  readonly value?: AnyValue;
  /** key_strindex (profiles dictionary index); omitted when 0. */
  readonly keyStrindex?: number;
}

export function stringKv(key: string, value: string): KeyValue {
  return { key, value };
}

export function intKv(key: string, value: number | bigint): KeyValue {
  return { key, value: BigInt(value) };
}

export function doubleKv(key: string, value: number): KeyValue {
  return { key, value };
}

export function boolKv(key: string, value: boolean): KeyValue {
  return { key, value };
}

/** The value of the first attribute named `key` if it is a string, else undefined. */
export function getStringAttr(attrs: readonly KeyValue[], key: string): string | undefined {
  for (const a of attrs) {
    if (a.key === key) return typeof a.value === 'string' ? a.value : undefined;
  }
  return undefined;
}

/** Returns `attrs` with `add` applied: an attribute of the same key is replaced in place, others are appended. */
export function setAttrs(attrs: readonly KeyValue[], add: readonly KeyValue[]): KeyValue[] {
  const out = attrs.slice();
  for (const kv of add) {
    const i = out.findIndex((a) => a.key === kv.key);
    if (i >= 0) out[i] = kv;
    else out.push(kv);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Decoding

const utf8 = new TextDecoder('utf-8', { fatal: true });

function readString(r: Reader, end: number): string {
  const buf = r.buf;
  const start = r.pos;
  let ascii = end - start <= 32;
  if (ascii) {
    for (let i = start; i < end; i++) {
      if (buf[i]! >= 0x80) {
        ascii = false;
        break;
      }
    }
  }
  r.pos = end;
  if (ascii) {
    let s = '';
    for (let i = start; i < end; i++) s += String.fromCharCode(buf[i]!);
    return s;
  }
  try {
    return utf8.decode(buf.subarray(start, end));
  } catch (err) {
    throw otlpError('SEXTANT_OTLP_UTF8', undefined, start, err);
  }
}

/** Reads a 64-bit varint as a signed bigint (int64). */
export function readInt64(r: Reader): bigint {
  const buf = r.buf;
  let lo = 0;
  let hi = 0;
  let pos = r.pos;
  for (let i = 0; i < 10; i++) {
    if (pos >= r.end) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'varint cut off', pos);
    const b = buf[pos++]!;
    if (i < 4) lo |= (b & 0x7f) << (7 * i);
    else if (i === 4) {
      lo |= (b & 0x0f) << 28;
      hi |= (b & 0x7f) >> 4;
    } else {
      if (i === 9 && b > 1) throw otlpError('SEXTANT_OTLP_VARINT', undefined, r.pos);
      hi |= (b & 0x7f) << (7 * i - 32);
    }
    if (b < 0x80) {
      r.pos = pos;
      return BigInt.asIntN(64, (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0));
    }
  }
  throw otlpError('SEXTANT_OTLP_VARINT', undefined, r.pos);
}

/** Reads a varint and keeps its low 32 bits as a signed int32 (proto int32 semantics). */
function readInt32(r: Reader): number {
  return Number(BigInt.asIntN(32, readInt64(r)));
}

function wrongWire(fn: number, wt: number, r: Reader): never {
  throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `field ${fn} has wire type ${wt}`, r.pos);
}

function readAnyValue(r: Reader, end: number, depth: number): AnyValue {
  if (depth > MAX_ANYVALUE_DEPTH) throw otlpError('SEXTANT_OTLP_DEPTH', `AnyValue nesting above ${MAX_ANYVALUE_DEPTH}`, r.pos);
  const saveEnd = r.end;
  r.end = end;
  let value: AnyValue = null;
  while (r.pos < end) {
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    switch (fn) {
      case 1:
        if (wt !== WT_LEN) wrongWire(fn, wt, r);
        value = readString(r, r.lenEnd());
        break;
      case 2:
        if (wt !== WT_VARINT) wrongWire(fn, wt, r);
        value = readInt64(r) !== 0n;
        break;
      case 3:
        if (wt !== WT_VARINT) wrongWire(fn, wt, r);
        value = readInt64(r);
        break;
      case 4: {
        if (wt !== WT_I64) wrongWire(fn, wt, r);
        if (end - r.pos < 8) throw otlpError('SEXTANT_OTLP_TRUNCATED', 'double cut off', r.pos);
        const b = r.buf;
        value = new DataView(b.buffer, b.byteOffset + r.pos, 8).getFloat64(0, true);
        r.pos += 8;
        break;
      }
      case 5: {
        if (wt !== WT_LEN) wrongWire(fn, wt, r);
        const ae = r.lenEnd();
        // merge semantics: a repeated array_value field appends to the previous one
        const arr: AnyValue[] = Array.isArray(value) ? (value as AnyValue[]) : [];
        const saved = r.end;
        r.end = ae;
        while (r.pos < ae) {
          const t2 = r.tag();
          const wt2 = t2 & 7;
          const fn2 = (t2 - wt2) / 8;
          if (fn2 === 1) {
            if (wt2 !== WT_LEN) wrongWire(fn2, wt2, r);
            arr.push(readAnyValue(r, r.lenEnd(), depth + 1));
          } else {
            r.skip(wt2, fn2);
          }
        }
        r.end = saved;
        value = arr;
        break;
      }
      case 6: {
        if (wt !== WT_LEN) wrongWire(fn, wt, r);
        const le = r.lenEnd();
        const list: KeyValue[] = isKvList(value) ? (value.kvlist as KeyValue[]) : [];
        const saved = r.end;
        r.end = le;
        while (r.pos < le) {
          const t2 = r.tag();
          const wt2 = t2 & 7;
          const fn2 = (t2 - wt2) / 8;
          if (fn2 === 1) {
            if (wt2 !== WT_LEN) wrongWire(fn2, wt2, r);
            list.push(readKeyValue(r, r.lenEnd(), depth));
          } else {
            r.skip(wt2, fn2);
          }
        }
        r.end = saved;
        value = { kvlist: list };
        break;
      }
      case 7: {
        if (wt !== WT_LEN) wrongWire(fn, wt, r);
        const be = r.lenEnd();
        value = r.buf.slice(r.pos, be);
        r.pos = be;
        break;
      }
      case 8:
        if (wt !== WT_VARINT) wrongWire(fn, wt, r);
        value = { strindex: readInt32(r) };
        break;
      default:
        r.skip(wt, fn);
    }
  }
  r.end = saveEnd;
  return value;
}

function isKvList(v: AnyValue | undefined): v is KvListValue {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array) && 'kvlist' in v;
}

/** Decodes one KeyValue message occupying [r.pos, end). `depth` counts enclosing AnyValues. */
export function readKeyValue(r: Reader, end: number, depth: number): KeyValue {
  const saveEnd = r.end;
  r.end = end;
  let key = '';
  let value: AnyValue | undefined;
  let keyStrindex = 0;
  while (r.pos < end) {
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    if (fn === 1) {
      if (wt !== WT_LEN) wrongWire(fn, wt, r);
      key = readString(r, r.lenEnd());
    } else if (fn === 2) {
      if (wt !== WT_LEN) wrongWire(fn, wt, r);
      value = readAnyValue(r, r.lenEnd(), depth + 1);
    } else if (fn === 3) {
      if (wt !== WT_VARINT) wrongWire(fn, wt, r);
      keyStrindex = readInt32(r);
    } else {
      r.skip(wt, fn);
    }
  }
  r.end = saveEnd;
  if (keyStrindex !== 0) return value === undefined ? { key, keyStrindex } : { key, value, keyStrindex };
  return value === undefined ? { key } : { key, value };
}

// ---------------------------------------------------------------------------------------------
// Encoding. sizeKeyValue() pushes the size of every nested message in pre-order onto `sizes`;
// writeKeyValue() consumes them in the same order, so each size is computed once.

export interface SizeList {
  sizes: number[];
  i: number;
}

function int64Size(v: bigint): number {
  let u = BigInt.asUintN(64, v);
  let n = 1;
  while (u >= 0x80n) {
    u >>= 7n;
    n++;
  }
  return n;
}

function anyValueSize(v: AnyValue, s: SizeList, depth: number): number {
  if (depth > MAX_ANYVALUE_DEPTH) throw otlpError('SEXTANT_OTLP_DEPTH', `AnyValue nesting above ${MAX_ANYVALUE_DEPTH}`);
  switch (typeof v) {
    case 'string': {
      const n = utf8Length(v);
      return 1 + varintSize(n) + n;
    }
    case 'boolean':
      return 2;
    case 'number':
      return 9;
    case 'bigint':
      return 1 + int64Size(v);
    default:
      break;
  }
  if (v === null) return 0;
  if (v instanceof Uint8Array) return 1 + varintSize(v.length) + v.length;
  if (Array.isArray(v)) {
    const slot = s.sizes.length;
    s.sizes.push(0);
    let inner = 0;
    for (const e of v as readonly AnyValue[]) {
      const es = nestedAnySize(e, s, depth + 1);
      inner += 1 + varintSize(es) + es;
    }
    s.sizes[slot] = inner;
    return 1 + varintSize(inner) + inner;
  }
  if (isKvList(v)) {
    const slot = s.sizes.length;
    s.sizes.push(0);
    let inner = 0;
    for (const kv of v.kvlist) {
      const ks = keyValueSize(kv, s, depth);
      inner += 1 + varintSize(ks) + ks;
    }
    s.sizes[slot] = inner;
    return 1 + varintSize(inner) + inner;
  }
  return 1 + int64Size(BigInt((v as StrIndexValue).strindex | 0));
}

function nestedAnySize(v: AnyValue, s: SizeList, depth: number): number {
  const slot = s.sizes.length;
  s.sizes.push(0);
  const n = anyValueSize(v, s, depth);
  s.sizes[slot] = n;
  return n;
}

/** Size of a KeyValue message body; records nested sizes in `s`. */
export function keyValueSize(kv: KeyValue, s: SizeList, depth = 0): number {
  const slot = s.sizes.length;
  s.sizes.push(0);
  let n = 0;
  if (kv.key !== '') {
    const k = utf8Length(kv.key);
    n += 1 + varintSize(k) + k;
  }
  if (kv.value !== undefined) {
    const vs = nestedAnySize(kv.value, s, depth + 1);
    n += 1 + varintSize(vs) + vs;
  }
  if (kv.keyStrindex !== undefined && kv.keyStrindex !== 0) n += 1 + int64Size(BigInt(kv.keyStrindex | 0));
  s.sizes[slot] = n;
  return n;
}

function writeInt64(out: Uint8Array, pos: number, v: bigint): number {
  let u = BigInt.asUintN(64, v);
  if (u < 0x80000000n) return writeVarint(out, pos, Number(u));
  while (u >= 0x80n) {
    out[pos++] = Number(u & 0x7fn) | 0x80;
    u >>= 7n;
  }
  out[pos++] = Number(u);
  return pos;
}

function writeString(out: Uint8Array, pos: number, tag: number, str: string): number {
  out[pos++] = tag;
  const n = utf8Length(str);
  pos = writeVarint(out, pos, n);
  return writeUtf8(out, pos, str);
}

function writeAnyValueBody(out: Uint8Array, pos: number, v: AnyValue, s: SizeList): number {
  switch (typeof v) {
    case 'string':
      return writeString(out, pos, 0x0a, v);
    case 'boolean':
      out[pos] = 0x10;
      out[pos + 1] = v ? 1 : 0;
      return pos + 2;
    case 'number':
      out[pos] = 0x21;
      new DataView(out.buffer, out.byteOffset + pos + 1, 8).setFloat64(0, v, true);
      return pos + 9;
    case 'bigint':
      out[pos] = 0x18;
      return writeInt64(out, pos + 1, v);
    default:
      break;
  }
  if (v === null) return pos;
  if (v instanceof Uint8Array) {
    out[pos++] = 0x3a;
    pos = writeVarint(out, pos, v.length);
    out.set(v, pos);
    return pos + v.length;
  }
  if (Array.isArray(v)) {
    out[pos++] = 0x2a;
    pos = writeVarint(out, pos, s.sizes[s.i++]!);
    for (const e of v as readonly AnyValue[]) {
      out[pos++] = 0x0a;
      pos = writeVarint(out, pos, s.sizes[s.i++]!);
      pos = writeAnyValueBody(out, pos, e, s);
    }
    return pos;
  }
  if (isKvList(v)) {
    out[pos++] = 0x32;
    pos = writeVarint(out, pos, s.sizes[s.i++]!);
    for (const kv of v.kvlist) {
      out[pos++] = 0x0a;
      pos = writeVarint(out, pos, s.sizes[s.i]!);
      pos = writeKeyValueBody(out, pos, kv, s);
    }
    return pos;
  }
  out[pos++] = 0x40;
  return writeInt64(out, pos, BigInt((v as StrIndexValue).strindex | 0));
}

/** Writes a KeyValue body (without tag/length); consumes its sizes from `s`. */
export function writeKeyValueBody(out: Uint8Array, pos: number, kv: KeyValue, s: SizeList): number {
  s.i++; // own size (already written by the caller)
  if (kv.key !== '') pos = writeString(out, pos, 0x0a, kv.key);
  if (kv.value !== undefined) {
    out[pos++] = 0x12;
    pos = writeVarint(out, pos, s.sizes[s.i++]!);
    pos = writeAnyValueBody(out, pos, kv.value, s);
  }
  if (kv.keyStrindex !== undefined && kv.keyStrindex !== 0) {
    out[pos++] = 0x18;
    pos = writeInt64(out, pos, BigInt(kv.keyStrindex | 0));
  }
  return pos;
}

/** Size of `attrs` encoded as repeated KeyValue field `fieldNo` (< 16), each tag + length + body. */
export function attrsSize(attrs: readonly KeyValue[], s: SizeList): number {
  let n = 0;
  for (const kv of attrs) {
    const ks = keyValueSize(kv, s);
    n += 1 + varintSize(ks) + ks;
  }
  return n;
}

/** Writes `attrs` as repeated field with one-byte `tag`; sizes must come from attrsSize() in the same order. */
export function writeAttrs(out: Uint8Array, pos: number, tag: number, attrs: readonly KeyValue[], s: SizeList): number {
  for (const kv of attrs) {
    out[pos++] = tag;
    pos = writeVarint(out, pos, s.sizes[s.i]!);
    pos = writeKeyValueBody(out, pos, kv, s);
  }
  return pos;
}

// ---------------------------------------------------------------------------------------------
// Conversion to and from the generated message types

export function anyValueToMessage(v: AnyValue): PbAnyValue {
  switch (typeof v) {
    case 'string':
      return create(AnyValueSchema, { value: { case: 'stringValue', value: v } });
    case 'boolean':
      return create(AnyValueSchema, { value: { case: 'boolValue', value: v } });
    case 'number':
      return create(AnyValueSchema, { value: { case: 'doubleValue', value: v } });
    case 'bigint':
      return create(AnyValueSchema, { value: { case: 'intValue', value: v } });
    default:
      break;
  }
  if (v === null) return create(AnyValueSchema);
  if (v instanceof Uint8Array) return create(AnyValueSchema, { value: { case: 'bytesValue', value: v } });
  if (Array.isArray(v)) {
    const values = (v as readonly AnyValue[]).map(anyValueToMessage);
    return create(AnyValueSchema, { value: { case: 'arrayValue', value: create(ArrayValueSchema, { values }) } });
  }
  if (isKvList(v)) {
    const values = v.kvlist.map(keyValueToMessage);
    return create(AnyValueSchema, { value: { case: 'kvlistValue', value: create(KeyValueListSchema, { values }) } });
  }
  return create(AnyValueSchema, { value: { case: 'stringValueStrindex', value: (v as StrIndexValue).strindex } });
}

/** Converts a plain KeyValue into the generated message type. */
export function keyValueToMessage(kv: KeyValue): PbKeyValue {
  const m = create(KeyValueSchema, { key: kv.key, keyStrindex: kv.keyStrindex ?? 0 });
  if (kv.value !== undefined) m.value = anyValueToMessage(kv.value);
  return m;
}

export function anyValueFromMessage(m: PbAnyValue): AnyValue {
  const v = m.value;
  switch (v.case) {
    case undefined:
      return null;
    case 'arrayValue':
      return v.value.values.map(anyValueFromMessage);
    case 'kvlistValue':
      return { kvlist: v.value.values.map(keyValueFromMessage) };
    case 'stringValueStrindex':
      return { strindex: v.value };
    default:
      return v.value;
  }
}

/** Converts a generated KeyValue message into the plain type. */
export function keyValueFromMessage(m: PbKeyValue): KeyValue {
  const base: { key: string; value?: AnyValue; keyStrindex?: number } = { key: m.key };
  if (m.value !== undefined) base.value = anyValueFromMessage(m.value);
  if (m.keyStrindex !== 0) base.keyStrindex = m.keyStrindex;
  return base;
}
