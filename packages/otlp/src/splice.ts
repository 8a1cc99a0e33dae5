// Resource-level splice on the protobuf wire format (ARCHITECTURE.md "Resource-level splice").
// Hand-written, not generated: it parses only the request, each ResourceLogs/Metrics/Spans and its
// Resource, rebuilds the Resource's attributes, and copies every other byte range unchanged.
// Cost grows with the number of resources, not records (bench/README.md has the figures).
import { otlpError } from './errors.ts';
import type { KeyValue } from './kv.ts';
import { attrsSize, readKeyValue, writeAttrs } from './kv.ts';
import type { SizeList } from './kv.ts';
import { Reader, WT_LEN, WT_VARINT, varintSize, writeVarint } from './wire.ts';

export type Signal = 'logs' | 'metrics' | 'traces';

/** Returns the new resource attributes, or null to drop the whole ResourceLogs/Metrics/Spans. */
export type ResourceRewrite = (attrs: KeyValue[], index: number) => KeyValue[] | null;

interface Entry {
  /** false: an unknown top-level field copied verbatim over [fieldStart, end) */
  resource: boolean;
  fieldStart: number;
  /** payload of the ResourceX message */
  start: number;
  end: number;
  /** Resource field occurrences inside the ResourceX, as (fieldStart, fieldEnd) pairs */
  occ: number[];
  /** byte ranges of the Resource's non-attribute fields, as (start, end) pairs */
  other: number[];
  attrs: KeyValue[];
}

function checkSignal(signal: Signal): void {
  if (signal !== 'logs' && signal !== 'metrics' && signal !== 'traces') {
    throw otlpError('SEXTANT_OTLP_SIGNAL', `signal ${JSON.stringify(signal)}`);
  }
}

function checkBytes(bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array)) throw otlpError('SEXTANT_OTLP_INVALID', `expected a Uint8Array, got ${typeof bytes}`);
}

/** Parses the Resource payload [start, end): decodes attributes, records the other fields' ranges. */
function scanResource(r: Reader, end: number, e: Entry): void {
  const saveEnd = r.end;
  r.end = end;
  let otherStart = -1;
  while (r.pos < end) {
    const fieldStart = r.pos;
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    if (fn === 1) {
      if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `Resource.attributes has wire type ${wt}`, fieldStart);
      if (otherStart >= 0) {
        e.other.push(otherStart, fieldStart);
        otherStart = -1;
      }
      e.attrs.push(readKeyValue(r, r.lenEnd(), 0));
      continue;
    }
    if (fn === 2 && wt !== WT_VARINT) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `Resource.dropped_attributes_count has wire type ${wt}`, fieldStart);
    if (fn === 3 && wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `Resource.entity_refs has wire type ${wt}`, fieldStart);
    r.skip(wt, fn);
    if (otherStart < 0) otherStart = fieldStart;
  }
  if (otherStart >= 0) e.other.push(otherStart, end);
  r.end = saveEnd;
}

function scanResourceX(r: Reader, e: Entry): void {
  const end = e.end;
  const saveEnd = r.end;
  r.end = end;
  while (r.pos < end) {
    const fieldStart = r.pos;
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    if (fn === 1) {
      if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `resource field has wire type ${wt}`, fieldStart);
      const pe = r.lenEnd();
      scanResource(r, pe, e);
      e.occ.push(fieldStart, pe);
      continue;
    }
    if ((fn === 2 || fn === 3) && wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `field ${fn} has wire type ${wt}`, fieldStart);
    r.skip(wt, fn);
  }
  r.end = saveEnd;
}

function scan(bytes: Uint8Array): Entry[] {
  const r = new Reader(bytes);
  const entries: Entry[] = [];
  while (r.pos < r.end) {
    const fieldStart = r.pos;
    const t = r.tag();
    const wt = t & 7;
    const fn = (t - wt) / 8;
    if (fn === 1) {
      if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `resource list field has wire type ${wt}`, fieldStart);
      const end = r.lenEnd();
      const e: Entry = { resource: true, fieldStart, start: r.pos, end, occ: [], other: [], attrs: [] };
      scanResourceX(r, e);
      entries.push(e);
    } else {
      r.skip(wt, fn);
      entries.push({ resource: false, fieldStart, start: fieldStart, end: r.pos, occ: [], other: [], attrs: [] });
    }
  }
  return entries;
}

/** The resource attributes of each ResourceLogs/ResourceMetrics/ResourceSpans, in order. */
export function readResources(bytes: Uint8Array, signal: Signal): KeyValue[][] {
  checkSignal(signal);
  checkBytes(bytes);
  const out: KeyValue[][] = [];
  for (const e of scan(bytes)) if (e.resource) out.push(e.attrs);
  return out;
}

/**
 * Checks `bytes` as the content of one ResourceLogs/ResourceMetrics/ResourceSpans, with the same
 * checks readResources() makes (throws the same decode errors), and returns how many `resource`
 * fields it holds. For a message that arrives in pieces, such as the records part of a zstd
 * body framed per resource, checked without joining it to its resource.
 */
export function scanResourceContent(bytes: Uint8Array, signal: Signal): number {
  checkSignal(signal);
  checkBytes(bytes);
  const e: Entry = { resource: true, fieldStart: 0, start: 0, end: bytes.length, occ: [], other: [], attrs: [] };
  scanResourceX(new Reader(bytes), e);
  return e.occ.length / 2;
}

/**
 * Returns new request bytes in which each resource's attributes are replaced by `fn`'s result
 * (null drops that ResourceLogs/Metrics/Spans). Everything else, including scopes, records,
 * schema_url, dropped_attributes_count, entity_refs and unknown fields, is copied byte for byte.
 * Several Resource fields in one ResourceX (legal protobuf, merged on decode) become one.
 */
export function rewriteResources(bytes: Uint8Array, signal: Signal, fn: ResourceRewrite): Uint8Array {
  const { parts, total } = splice(bytes, signal, fn);
  const out = new Uint8Array(total);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/**
 * rewriteResources() as a list of byte ranges whose concatenation is the new request: the new
 * Resource bytes in small buffers, the scopes and records as views of `bytes` (not copied), so
 * a caller that writes them out with writev (the durable queue) saves a copy of the whole
 * request. `bytes` must not change while the ranges are in use.
 */
export function rewriteResourcesParts(bytes: Uint8Array, signal: Signal, fn: ResourceRewrite): Uint8Array[] {
  return splice(bytes, signal, fn).parts;
}

// Ranges of the input up to this long are copied next to the new bytes rather than referenced.
const SMALL_COPY = 256;

function splice(bytes: Uint8Array, signal: Signal, fn: ResourceRewrite): { parts: Uint8Array[]; total: number } {
  checkSignal(signal);
  checkBytes(bytes);
  const entries = scan(bytes);
  const sizes: SizeList = { sizes: [], i: 0 };
  // per entry: new attrs (or null), new Resource content size, new ResourceX size
  const newAttrs: (KeyValue[] | null)[] = [];
  const resSize: number[] = [];
  const xSize: number[] = [];
  let total = 0;
  let index = 0;
  let scratchSize = 0;
  for (const e of entries) {
    if (!e.resource) {
      newAttrs.push(null);
      resSize.push(0);
      xSize.push(0);
      total += e.end - e.fieldStart;
      scratchSize += SMALL_COPY;
      continue;
    }
    const attrs = fn(e.attrs, index++);
    newAttrs.push(attrs);
    if (attrs === null) {
      resSize.push(0);
      xSize.push(0);
      continue;
    }
    let rs = attrsSize(attrs, sizes);
    for (let i = 0; i < e.other.length; i += 2) rs += e.other[i + 1]! - e.other[i]!;
    let xs = e.end - e.start;
    for (let i = 0; i < e.occ.length; i += 2) xs -= e.occ[i + 1]! - e.occ[i]!;
    if (e.occ.length > 0 || attrs.length > 0) xs += 1 + varintSize(rs) + rs;
    resSize.push(rs);
    xSize.push(xs);
    total += 1 + varintSize(xs) + xs;
    scratchSize += 12 + rs + SMALL_COPY * (e.occ.length / 2 + 1);
  }

  // New bytes (and small copies) go to `scratch`; long input ranges are referenced.
  const scratch = new Uint8Array(Math.min(total, scratchSize));
  const parts: Uint8Array[] = [];
  let pos = 0;
  let segStart = 0;
  let length = 0;
  const copy = (start: number, end: number): void => {
    if (end - start <= SMALL_COPY) {
      scratch.set(bytes.subarray(start, end), pos);
      pos += end - start;
      return;
    }
    if (pos > segStart) parts.push(scratch.subarray(segStart, pos));
    segStart = pos;
    parts.push(bytes.subarray(start, end));
    length += end - start;
  };
  for (let k = 0; k < entries.length; k++) {
    const e = entries[k]!;
    if (!e.resource) {
      copy(e.fieldStart, e.end);
      continue;
    }
    const attrs = newAttrs[k]!;
    if (attrs === null) continue;
    scratch[pos++] = 0x0a;
    pos = writeVarint(scratch, pos, xSize[k]!);
    const writeRes = (): void => {
      scratch[pos++] = 0x0a;
      pos = writeVarint(scratch, pos, resSize[k]!);
      pos = writeAttrs(scratch, pos, 0x0a, attrs, sizes);
      for (let i = 0; i < e.other.length; i += 2) copy(e.other[i]!, e.other[i + 1]!);
    };
    let cursor = e.start;
    if (e.occ.length === 0) {
      if (attrs.length > 0) writeRes();
    } else {
      for (let i = 0; i < e.occ.length; i += 2) {
        const fs = e.occ[i]!;
        copy(cursor, fs);
        if (i === 0) writeRes();
        cursor = e.occ[i + 1]!;
      }
    }
    copy(cursor, e.end);
  }
  if (pos > segStart) parts.push(scratch.subarray(segStart, pos));
  length += pos;
  if (length !== total || pos > scratch.length) throw new Error(`internal: rewriteResources wrote ${length} of ${total} bytes`);
  return { parts, total };
}

// ---------------------------------------------------------------------------------------------
// Counting without decoding

/**
 * Reads the field at r.pos: for field `fieldNo` (which must be length-delimited) returns the end
 * of its payload, r.pos at the payload's start; any other field is skipped (checked) and -1 returned.
 */
function nextField(r: Reader, fieldNo: number): number {
  const fieldStart = r.pos;
  const t = r.tag();
  const wt = t & 7;
  const f = (t - wt) / 8;
  if (f !== fieldNo) {
    r.skip(wt, f);
    return -1;
  }
  if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `field ${f} has wire type ${wt}`, fieldStart);
  return r.lenEnd();
}

function forEachField(r: Reader, end: number, fieldNo: number, fn: (end: number) => void): void {
  const saveEnd = r.end;
  r.end = end;
  while (r.pos < end) {
    const pe = nextField(r, fieldNo);
    if (pe < 0) continue;
    fn(pe);
    r.pos = pe;
  }
  r.end = saveEnd;
}

const METRIC_DATA_FIELDS = [5, 7, 9, 10, 11];

/**
 * Counts log records, spans, or metric data points (of all five metric types) without decoding
 * them; checks only the structure it walks through.
 */
export function countRecords(bytes: Uint8Array, signal: Signal): number {
  checkSignal(signal);
  checkBytes(bytes);
  const r = new Reader(bytes);
  let n = 0;
  forEachField(r, bytes.length, 1, (xEnd) => {
    n += countIn(r, xEnd, signal);
  });
  return n;
}

/** countRecords() of one ResourceLogs/ResourceMetrics/ResourceSpans content (its fields, no tag or length). */
export function countResourceRecords(content: Uint8Array, signal: Signal): number {
  checkSignal(signal);
  checkBytes(content);
  return countIn(new Reader(content), content.length, signal);
}

/**
 * Fields 2 (log_records / spans) in a ScopeLogs / ScopeSpans [r.pos, end), each checked to lie
 * within it. The common tag (one byte, 0x12) and lengths up to three bytes are read inline:
 * through forEachField and a callback per record this was 9% of the enrichment service's CPU
 * (~95 ns per record, bench/README.md "enrichment"); anything else takes the Reader's checked path.
 */
function countField2(r: Reader, end: number): number {
  const buf = r.buf;
  const saveEnd = r.end;
  r.end = end;
  let pos = r.pos;
  let n = 0;
  while (pos < end) {
    if (buf[pos] === 0x12 && pos + 1 < end) {
      let len = buf[pos + 1] as number;
      let at = pos + 2;
      let inline = true;
      if (len >= 0x80) {
        const b1 = at < end ? (buf[at++] as number) : 0x80;
        len = (len & 0x7f) | ((b1 & 0x7f) << 7);
        if (b1 >= 0x80) {
          const b2 = at < end ? (buf[at++] as number) : 0x80;
          len |= (b2 & 0x7f) << 14;
          inline = b2 < 0x80;
        }
      }
      if (inline && len <= end - at) {
        pos = at + len;
        n++;
        continue;
      }
    }
    // one field the checked way (other fields, long lengths, and bytes in error, which throw)
    r.pos = pos;
    const pe = nextField(r, 2);
    if (pe >= 0) {
      r.pos = pe;
      n++;
    }
    pos = r.pos;
  }
  r.pos = pos;
  r.end = saveEnd;
  return n;
}

function countIn(r: Reader, xEnd: number, signal: Signal): number {
  let n = 0;
  forEachField(r, xEnd, 2, (sEnd) => {
    if (signal !== 'metrics') {
      n += countField2(r, sEnd);
      return;
    }
    forEachField(r, sEnd, 2, (mEnd) => {
      const saveEnd = r.end;
      r.end = mEnd;
      while (r.pos < mEnd) {
        const fieldStart = r.pos;
        const t = r.tag();
        const wt = t & 7;
        const f = (t - wt) / 8;
        if (METRIC_DATA_FIELDS.includes(f)) {
          if (wt !== WT_LEN) throw otlpError('SEXTANT_OTLP_WIRE_TYPE', `field ${f} has wire type ${wt}`, fieldStart);
          const de = r.lenEnd();
          forEachField(r, de, 1, () => {
            n++;
          });
          r.pos = de;
        } else {
          r.skip(wt, f);
        }
      }
      r.end = saveEnd;
    });
  });
  return n;
}
