// An OTLP logs request compressed as concatenated zstd frames, two per ResourceLogs:
// H = the ResourceLogs tag + length varint + its `resource` field, R = the rest of that
// ResourceLogs (scope_logs, schema_url). Concatenated frames are one zstd stream (RFC 8878 §3.1),
// so any zstd-capable OTLP receiver decodes the same bytes; the enrichment service can rewrite
// the small H frames and keep the R frames compressed (packages/enrichment README "zstd pass-through").
// Every frame carries Frame_Content_Size (pledgedSrcSize), which that receiver needs.
import { promisify } from 'node:util';
import { constants as zlibConstants, zstdCompress } from 'node:zlib';

import { readVarintAt } from './wire.ts';

const zstdP = promisify(zstdCompress);

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

/**
 * Compresses an encoded ExportLogsServiceRequest as zstd frames H_1, R_1, H_2, R_2, … (one
 * frame when the request does not have that shape). Their concatenation is the request body.
 * `level` undefined = zstd's default (3).
 */
async function encodeZstdFramedLogs(body: Uint8Array, level?: number): Promise<Buffer[]> {
  const ranges = framedRanges(body);
  if (ranges === undefined) return [await compressFrame(body, level)];
  return Promise.all(ranges.map(([s, e]) => compressFrame(body.subarray(s, e), level)));
}

export { encodeZstdFramedLogs };
