// Walks the frames of a zstd body without decompressing it (RFC 8878 §3.1): frame headers and
// block headers only. Why: node:zlib's zstd decoder stops at the end of the first frame and
// silently ignores the rest, while a zstd stream may be several concatenated frames (our node
// collector sends one pair of frames per resource, see @sextant/otlp encodeZstdFramedLogs), so
// ingest decompresses frame by frame; and the declared content sizes let the limits apply
// before a byte is inflated.

import { gunzip, zstdDecompress } from 'node:zlib';
import { readLE } from './le.ts';

const ZSTD_MAGIC = 0xfd2fb528;
const SKIPPABLE_MASK = 0xfffffff0;
const SKIPPABLE_MAGIC = 0x184d2a50;

/** One zstd data frame of a body: its byte range and, when the header carries it, its content size. */
interface ZstdFrame {
  start: number;
  end: number;
  /** Frame_Content_Size; undefined when the header leaves it out. */
  contentSize: number | undefined;
  /** The header names a dictionary (Dictionary_ID present and not 0). */
  dictionary: boolean;
}

type ZstdFrameWalk =
  | {
      kind: 'ok';
      /** The data frames in order (skippable frames left out). */
      frames: ZstdFrame[];
      /** How many skippable frames were passed over. */
      skippable: number;
    }
  | { kind: 'malformed'; reason: string };

const FCS_BYTES = [0, 2, 4, 8] as const;
const DICT_BYTES = [0, 1, 2, 4] as const;

/** The frames of `buf`, or why it is not a well-formed sequence of zstd frames. */
function walkZstdFrames(buf: Uint8Array): ZstdFrameWalk {
  const frames: ZstdFrame[] = [];
  let skippable = 0;
  let pos = 0;
  if (buf.length === 0) return { kind: 'malformed', reason: 'empty zstd body' };
  while (pos < buf.length) {
    const start = pos;
    if (pos + 4 > buf.length) return { kind: 'malformed', reason: `truncated frame magic at byte ${pos}` };
    const magic = readLE(buf, pos, 4);
    pos += 4;
    if (((magic & SKIPPABLE_MASK) >>> 0) === SKIPPABLE_MAGIC) {
      if (pos + 4 > buf.length) return { kind: 'malformed', reason: `truncated skippable frame at byte ${start}` };
      const size = readLE(buf, pos, 4);
      pos += 4 + size;
      if (pos > buf.length) return { kind: 'malformed', reason: `skippable frame at byte ${start} runs past the end of the body` };
      skippable++;
      continue;
    }
    if (magic !== ZSTD_MAGIC) return { kind: 'malformed', reason: `no zstd frame magic at byte ${start} (0x${magic.toString(16)})` };
    if (pos >= buf.length) return { kind: 'malformed', reason: `truncated frame header at byte ${start}` };
    const fhd = buf[pos++] as number;
    if ((fhd & 0x08) !== 0) return { kind: 'malformed', reason: `reserved bit set in the frame header at byte ${start}` };
    const fcsFlag = fhd >> 6;
    const singleSegment = (fhd & 0x20) !== 0;
    const checksum = (fhd & 0x04) !== 0;
    const dictBytes = DICT_BYTES[fhd & 3] as number;
    const fcsBytes = fcsFlag === 0 && singleSegment ? 1 : (FCS_BYTES[fcsFlag] as number);
    const headerRest = (singleSegment ? 0 : 1) + dictBytes + fcsBytes;
    if (pos + headerRest > buf.length) return { kind: 'malformed', reason: `truncated frame header at byte ${start}` };
    if (!singleSegment) pos++; // Window_Descriptor
    const dictionary = dictBytes > 0 && readLE(buf, pos, dictBytes) !== 0;
    pos += dictBytes;
    let contentSize: number | undefined;
    if (fcsBytes > 0) {
      contentSize = readLE(buf, pos, fcsBytes) + (fcsBytes === 2 ? 256 : 0);
      pos += fcsBytes;
    }
    for (;;) {
      if (pos + 3 > buf.length) return { kind: 'malformed', reason: `truncated block header in the frame at byte ${start}` };
      const bh = readLE(buf, pos, 3);
      pos += 3;
      const last = (bh & 1) !== 0;
      const type = (bh >> 1) & 3;
      const size = bh >>> 3;
      if (type === 3) return { kind: 'malformed', reason: `reserved block type in the frame at byte ${start}` };
      pos += type === 1 ? 1 : size; // an RLE block carries one byte, repeated Block_Size times
      if (pos > buf.length) return { kind: 'malformed', reason: `truncated block in the frame at byte ${start}` };
      if (last) break;
    }
    if (checksum) {
      pos += 4;
      if (pos > buf.length) return { kind: 'malformed', reason: `truncated checksum of the frame at byte ${start}` };
    }
    frames.push({ start, end: pos, contentSize, dictionary });
  }
  return { kind: 'ok', frames, skippable };
}

function inflateOne(frame: Uint8Array, contentSize: number | undefined): Promise<Buffer> {
  const opts = contentSize === undefined ? {} : { maxOutputLength: Math.max(1, contentSize), chunkSize: Math.max(64, Math.min(1024 * 1024, contentSize)) };
  return new Promise((resolve, reject) => zstdDecompress(frame, opts, (err, out) => (err === null ? resolve(out) : reject(err))));
}

/**
 * Decompresses every data frame of a zstd body (trusted bytes, e.g. a queue item that passed
 * ingest) and joins them; node:zlib alone would stop after the first frame.
 */
async function inflateZstdFrames(buf: Uint8Array): Promise<Buffer> {
  const walk = walkZstdFrames(buf);
  if (walk.kind === 'malformed') throw new Error(`zstd payload is malformed: ${walk.reason}`);
  const out = await Promise.all(walk.frames.map((f) => inflateOne(buf.subarray(f.start, f.end), f.contentSize)));
  return out.length === 1 ? (out[0] as Buffer) : Buffer.concat(out);
}

/**
 * The request bytes of a payload stored compressed (trusted bytes, e.g. a queue item that passed
 * ingest): every zstd frame, or every gzip member (node:zlib's gunzip reads across members).
 */
function inflateStored(buf: Uint8Array, encoding: 'zstd' | 'gzip'): Promise<Buffer> {
  if (encoding === 'zstd') return inflateZstdFrames(buf);
  return new Promise((resolve, reject) => gunzip(buf, { chunkSize: Math.min(1024 * 1024, Math.max(64 * 1024, buf.byteLength * 4)) }, (err, out) => (err === null ? resolve(out) : reject(err))));
}

export { inflateStored, inflateZstdFrames, walkZstdFrames };
export type { ZstdFrame, ZstdFrameWalk };
