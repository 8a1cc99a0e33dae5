// An OTLP logs request compressed as a sequence of frames, two per ResourceLogs:
// H = the ResourceLogs tag + length varint + its `resource` field, R = the rest of that
// ResourceLogs (scope_logs, schema_url). The enrichment service rewrites the small H frames and
// keeps the R frames compressed (packages/enrichment README "Compressed pass-through"), so a log
// record is compressed once, on its node, however many stages it crosses.
//
// zstd: concatenated frames are one zstd stream (RFC 8878 §3.1), so any zstd-capable OTLP receiver
// decodes the same bytes. Every frame carries Frame_Content_Size (pledgedSrcSize), which that
// receiver needs.
//
// gzip: concatenated members are one gzip file (RFC 1952 §2.2), which every gzip reader that OTLP
// receivers use decodes whole (Go's gzip.Reader, node:zlib, Python's gzip, Java's GZIPInputStream).
// A member's compressed length is written nowhere in gzip, so each member carries it in an extra
// field (FEXTRA, RFC 1952 §2.3.1.1): subfield SI1 'S', SI2 'X', 4 bytes, the member's total length
// (u32 LE), as BGZF does with its 'BC' subfield. Readers that do not know the subfield skip it.
// @sextant/pipeline ingest/gzip-members.ts reads it.
import { promisify } from 'node:util';
import { constants as zlibConstants, crc32, gzip as gzipCb, zstdCompress } from 'node:zlib';

import { readVarintAt } from './wire.ts';

const zstdP = promisify(zstdCompress);
const gzipP = promisify(gzipCb);

/**
 * The [start, end) ranges of an ExportLogsServiceRequest cut as H_1, R_1, H_2, R_2, … (see above);
 * undefined when the request is not `repeated ResourceLogs = 1` with each ResourceLogs starting
 * with its one `resource` field (then it is compressed as one frame).
 */
function framedRanges(body: Uint8Array): Array<[number, number]> | undefined {
  const ranges: Array<[number, number]> = [];
  let pos = 0;
  while (pos < body.length) {
    const start = pos;
    if (body[pos] !== 0x0a) return undefined;
    const len = readVarintAt(body, pos + 1, body.length);
    if (len === undefined) return undefined;
    const [rlLen, rlStart] = len;
    const rlEnd = rlStart + rlLen;
    if (rlEnd > body.length || body[rlStart] !== 0x0a) return undefined;
    const res = readVarintAt(body, rlStart + 1, rlEnd);
    if (res === undefined) return undefined;
    const resEnd = res[1] + res[0];
    if (resEnd > rlEnd) return undefined;
    // A second `resource` field later in the ResourceLogs would merge into the first: keep it simple.
    for (let p = resEnd; p < rlEnd; ) {
      const tag = readVarintAt(body, p, rlEnd);
      if (tag === undefined) return undefined;
      const [t, afterTag] = tag;
      if (t === 0x0a) return undefined;
      const wire = t & 7;
      if (wire === 2) {
        const l = readVarintAt(body, afterTag, rlEnd);
        if (l === undefined) return undefined;
        p = l[1] + l[0];
      } else if (wire === 0) {
        const v = readVarintAt(body, afterTag, rlEnd);
        if (v === undefined) return undefined;
        p = v[1];
      } else if (wire === 1) p = afterTag + 8;
      else if (wire === 5) p = afterTag + 4;
      else return undefined;
      if (p > rlEnd) return undefined;
    }
    ranges.push([start, resEnd], [resEnd, rlEnd]);
    pos = rlEnd;
  }
  return ranges.length > 0 ? ranges : undefined;
}

function compressFrame(bytes: Uint8Array, level: number | undefined): Promise<Buffer> {
  const params = level === undefined ? {} : { params: { [zlibConstants.ZSTD_c_compressionLevel]: level } };
  return zstdP(bytes, { pledgedSrcSize: bytes.byteLength, ...params });
}

// H frames (a resource, a few hundred bytes) are stored, not compressed: a zstd frame of Raw blocks,
// a gzip member of stored deflate blocks. Compressing them saved little (the R frame of a 2,000-record
// request is ~160 KB compressed) and cost the most per byte: a compressor context and a zlib object
// for each, and on the enrichment service a decompressor for each at ingest and a compressor for
// each H' it writes. ZSTD_createCCtx/DCtx and the zlib objects' construction were ~5% of the
// service's main thread at 200,000 records/s (bench/README.md "enrichment", round 4).
const RAW_BLOCK_MAX = 128 * 1024; // Block_Maximum_Size (RFC 8878 §3.1.1.2.3)
const STORED_BLOCK_MAX = 65535; // LEN of a stored deflate block (RFC 1951 §3.2.4)
/** Length of the gzip member header written here: the 10 fixed bytes, XLEN, and the 8-byte 'SX' subfield. */
const GZIP_MEMBER_HEADER = 20;

/** `bytes` as one zstd frame of Raw blocks, with its Frame_Content_Size (4 bytes, single segment). */
function zstdStoredFrame(bytes: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(bytes.length / RAW_BLOCK_MAX));
  const out = Buffer.allocUnsafe(4 + 1 + 4 + 3 * blocks + bytes.length);
  out.writeUInt32LE(0xfd2fb528, 0);
  out[4] = 0xa0; // FCS_Field_Size 2 (4 bytes), Single_Segment, no checksum, no dictionary
  out.writeUInt32LE(bytes.length, 5);
  let at = 9;
  for (let b = 0; b < blocks; b++) {
    const from = b * RAW_BLOCK_MAX;
    const size = Math.min(RAW_BLOCK_MAX, bytes.length - from);
    const header = (size << 3) | (b === blocks - 1 ? 1 : 0); // Block_Type 0: Raw
    out[at] = header & 0xff;
    out[at + 1] = (header >>> 8) & 0xff;
    out[at + 2] = (header >>> 16) & 0xff;
    out.set(bytes.subarray(from, from + size), at + 3);
    at += 3 + size;
  }
  return out;
}

/** The 20-byte member header with the 'SX' subfield naming the member's total length. */
function writeGzipHeader(out: Buffer, total: number, xfl: number, os: number): void {
  out[0] = 0x1f;
  out[1] = 0x8b;
  out[2] = 8; // CM deflate
  out[3] = 0x04; // FLG: FEXTRA only
  out.writeUInt32LE(0, 4); // MTIME unknown
  out[8] = xfl;
  out[9] = os;
  out.writeUInt16LE(8, 10); // XLEN
  out[12] = 0x53; // SI1 'S'
  out[13] = 0x58; // SI2 'X'
  out.writeUInt16LE(4, 14); // LEN
  out.writeUInt32LE(total, 16);
}

/** `bytes` as one gzip member of stored deflate blocks, with the 'SX' subfield. */
function gzipStoredMember(bytes: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(bytes.length / STORED_BLOCK_MAX));
  const total = GZIP_MEMBER_HEADER + 5 * blocks + bytes.length + 8;
  const out = Buffer.allocUnsafe(total);
  writeGzipHeader(out, total, 0, 255);
  let at = GZIP_MEMBER_HEADER;
  for (let b = 0; b < blocks; b++) {
    const from = b * STORED_BLOCK_MAX;
    const size = Math.min(STORED_BLOCK_MAX, bytes.length - from);
    out[at] = b === blocks - 1 ? 1 : 0; // BFINAL, BTYPE 00 (stored)
    out.writeUInt16LE(size, at + 1);
    out.writeUInt16LE(~size & 0xffff, at + 3);
    out.set(bytes.subarray(from, from + size), at + 5);
    at += 5 + size;
  }
  out.writeUInt32LE(crc32(bytes), at);
  out.writeUInt32LE(bytes.length >>> 0, at + 4);
  return out;
}

/**
 * Compresses an encoded ExportLogsServiceRequest as zstd frames H_1, R_1, H_2, R_2, … (one
 * frame when the request does not have that shape). Their concatenation is the request body.
 * `level` undefined = zstd's default (3).
 */
async function encodeZstdFramedLogs(body: Uint8Array, level?: number): Promise<Buffer[]> {
  const ranges = framedRanges(body);
  if (ranges === undefined) return [await compressFrame(body, level)];
  return Promise.all(ranges.map(([s, e], i) => (i % 2 === 0 ? Promise.resolve(zstdStoredFrame(body.subarray(s, e))) : compressFrame(body.subarray(s, e), level))));
}


/**
 * One gzip member with the 'SX' extra subfield (see the top of this file). node:zlib writes the
 * member (deflate and CRC-32 on the thread pool) with its plain 10-byte header, which is swapped
 * for one with FEXTRA set; XFL and OS are kept from zlib's header.
 */
async function gzipMember(bytes: Uint8Array, level: number): Promise<Buffer> {
  const plain = await gzipP(bytes, { level });
  if (plain[3] !== 0) throw new Error(`node:zlib wrote gzip header flags 0x${(plain[3] as number).toString(16)}; expected none`);
  const total = GZIP_MEMBER_HEADER + plain.length - 10;
  const out = Buffer.allocUnsafe(total);
  writeGzipHeader(out, total, plain[8] as number, plain[9] as number);
  plain.copy(out, GZIP_MEMBER_HEADER, 10);
  return out;
}

/**
 * Compresses an encoded ExportLogsServiceRequest as gzip members H_1, R_1, H_2, R_2, … (one member
 * when the request does not have that shape), each carrying its length (see the top of this file).
 * Their concatenation is the request body. Level 1 by default: on access-log-like records it is
 * 2.2x faster than zlib's default 6 for a 10% larger body (3.24:1 against 3.56:1, 4 MB of the
 * enrichment benchmark's records, node:zlib on this project's CI machine).
 */
async function encodeGzipFramedLogs(body: Uint8Array, level = 1): Promise<Buffer[]> {
  const ranges = framedRanges(body);
  if (ranges === undefined) return [await gzipMember(body, level)];
  return Promise.all(ranges.map(([s, e], i) => (i % 2 === 0 ? Promise.resolve(gzipStoredMember(body.subarray(s, e))) : gzipMember(body.subarray(s, e), level))));
}

export { encodeGzipFramedLogs, encodeZstdFramedLogs, gzipStoredMember, zstdStoredFrame };
