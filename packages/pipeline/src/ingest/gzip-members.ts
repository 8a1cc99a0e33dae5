// Finds the members of a gzip body framed the way @sextant/otlp encodeGzipFramedLogs frames it:
// each member names its own total length in an extra subfield (FEXTRA, RFC 1952 §2.3.1.1; SI1 'S',
// SI2 'X', 4 bytes, u32 LE). gzip itself records no compressed length, so without that subfield the
// members of a body are found only by inflating it. With it, ingest inflates each member on its own
// (the enrichment service keeps the members compressed), and the decoded sizes (ISIZE, the last 4
// bytes of each member) count against the limit before a byte is inflated.
// Whether a member really ends where it says is checked when it is inflated (body.ts inflateMember).

import { readLE } from './le.ts';

const SX_SI1 = 0x53; // 'S'
const SX_SI2 = 0x58; // 'X'
const FEXTRA = 0x04;
const FLG_RESERVED = 0xe0;

/** One member: its byte range in the body and the decoded size its trailer declares. */
interface GzipMember {
  start: number;
  end: number;
  isize: number;
}

type GzipMemberWalk =
  | { kind: 'framed'; members: GzipMember[] }
  /** Some member does not carry its length: read the body as one gzip stream. */
  | { kind: 'plain' }
  | { kind: 'malformed'; reason: string };

/** The member's declared length; null when it declares none; a string saying why the header is unreadable. */
function memberLength(buf: Uint8Array, start: number): number | null | string {
  if (start + 12 > buf.length) return `truncated gzip header at byte ${start}`;
  if (buf[start] !== 0x1f || buf[start + 1] !== 0x8b) return `no gzip magic at byte ${start}`;
  if (buf[start + 2] !== 8) return `gzip member at byte ${start} is not deflate (CM ${buf[start + 2]})`;
  const flg = buf[start + 3] as number;
  if ((flg & FLG_RESERVED) !== 0) return `reserved flag bits set in the gzip member at byte ${start}`;
  if ((flg & FEXTRA) === 0) return null;
  const xlen = readLE(buf, start + 10, 2);
  const xend = start + 12 + xlen;
  if (xend > buf.length) return `truncated gzip extra field at byte ${start}`;
  for (let p = start + 12; p + 4 <= xend; ) {
    const len = readLE(buf, p + 2, 2);
    if (p + 4 + len > xend) return `gzip extra subfield runs past its field at byte ${p}`;
    if (buf[p] === SX_SI1 && buf[p + 1] === SX_SI2 && len === 4) {
      return readLE(buf, p + 4, 4);
    }
    p += 4 + len;
  }
  return null;
}

/** The members of `buf` when every one names its length; 'plain' when one does not. */
function walkGzipMembers(buf: Uint8Array): GzipMemberWalk {
  if (buf.length === 0) return { kind: 'malformed', reason: 'empty gzip body' };
  const members: GzipMember[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const len = memberLength(buf, pos);
    if (len === null) return { kind: 'plain' };
    if (typeof len === 'string') return members.length === 0 && pos === 0 ? { kind: 'plain' } : { kind: 'malformed', reason: len };
    // 10 fixed header bytes + XLEN + the subfield, at least an empty deflate block, and the trailer.
    if (len < 20 + 2 + 8 || pos + len > buf.length) return { kind: 'malformed', reason: `gzip member at byte ${pos} declares ${len} bytes; the body has ${buf.length - pos} from there` };
    const end = pos + len;
    const isize = readLE(buf, end - 4, 4);
    members.push({ start: pos, end, isize });
    pos = end;
  }
  return { kind: 'framed', members };
}

export { walkGzipMembers };
export type { GzipMember, GzipMemberWalk };
