// Frames that hold their bytes uncompressed, read without zlib: a zstd frame of Raw blocks only
// (no checksum), a gzip member of stored deflate blocks only. @sextant/otlp's framed encoders write
// the small H frames (one resource each) this way; through node:zlib each one cost a decompressor
// context and a zlib object, ~5% of the enrichment service's main thread (bench/README.md
// "enrichment", round 4). Anything else, or anything not exactly right, returns undefined and goes
// to zlib, which gives the error if there is one.
import { crc32 } from 'node:zlib';
import { readLE } from './le.ts';

/** A zstd frame of Raw blocks with a 4-byte content size, single segment, no checksum, no dictionary. */
function zstdStored(frame: Uint8Array, declared: number): Buffer | undefined {
  if (frame.length < 12 || frame[4] !== 0xa0 || readLE(frame, 5, 4) !== declared) return undefined;
  const out = Buffer.allocUnsafe(declared);
  let at = 0;
  let pos = 9;
  for (;;) {
    if (pos + 3 > frame.length) return undefined;
    const bh = readLE(frame, pos, 3);
    const size = bh >>> 3;
    if (((bh >> 1) & 3) !== 0 || at + size > declared || pos + 3 + size > frame.length) return undefined;
    out.set(frame.subarray(pos + 3, pos + 3 + size), at);
    at += size;
    pos += 3 + size;
    if ((bh & 1) !== 0) break;
  }
  return pos === frame.length && at === declared ? out : undefined;
}

/** A gzip member whose only header flag is FEXTRA and whose deflate data is stored blocks; CRC-32 and ISIZE checked. */
function gzipStored(member: Uint8Array, declared: number): Buffer | undefined {
  if (member.length < 12 + 5 + 8 || member[3] !== 0x04) return undefined;
  const out = Buffer.allocUnsafe(declared);
  let at = 0;
  let pos = 12 + readLE(member, 10, 2);
  const end = member.length - 8;
  for (;;) {
    if (pos + 5 > end) return undefined;
    const head = member[pos] as number;
    const len = readLE(member, pos + 1, 2);
    if ((head & 0xfe) !== 0 || readLE(member, pos + 3, 2) !== (~len & 0xffff) || at + len > declared || pos + 5 + len > end) return undefined;
    out.set(member.subarray(pos + 5, pos + 5 + len), at);
    at += len;
    pos += 5 + len;
    if (head === 1) break;
  }
  if (pos !== end || at !== declared || readLE(member, end + 4, 4) !== declared || readLE(member, end, 4) !== crc32(out)) return undefined;
  return out;
}

/** The bytes of a stored frame of `codec`, or undefined when it is not one (then inflate it). */
function storedContent(codec: 'zstd' | 'gzip', frame: Uint8Array, declared: number): Buffer | undefined {
  return codec === 'zstd' ? zstdStored(frame, declared) : gzipStored(frame, declared);
}

export { storedContent };
