// Reading one OTLP/HTTP request body with hard limits before and after decompression.
// The wire body is collected up to maxBodyBytes (a Content-Length above it is refused
// before a byte is read), then inflated with zlib's maxOutputLength, which stops the
// inflater as soon as the output passes the cap, so a gzip/zstd bomb never expands past
// maxDecodedBytes in memory. Buffering the (bounded) wire body first keeps the common path
// to one Buffer.concat and one zlib call (synchronous for small bodies, see inflate()).
import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { gunzip, gunzipSync, zstdDecompress, zstdDecompressSync } from 'node:zlib';
import type { ZlibOptions, ZstdOptions } from 'node:zlib';
import { ingestRejection } from './rejections.ts';
import type { IngestRejection } from './rejections.ts';
import type { OtlpFormat } from './wire.ts';
import { walkGzipMembers } from './gzip-members.ts';
import { storedContent } from './stored-frames.ts';
import { walkZstdFrames } from './zstd-frames.ts';

/** Size limits of one request, in bytes. */
interface IngestLimits {
  /** Largest body accepted on the wire (compressed). Default 16 MiB. */
  maxBodyBytes: number;
  /** Largest body after decompression. Default 64 MiB. */
  maxDecodedBytes: number;
}

const DEFAULT_INGEST_LIMITS: IngestLimits = { maxBodyBytes: 16 * 1024 * 1024, maxDecodedBytes: 64 * 1024 * 1024 };

type ContentEncoding = 'identity' | 'gzip' | 'zstd';

/** An accepted body: the decompressed OTLP bytes and how they arrived. */
interface OtlpBody {
  kind: 'ok';
  format: OtlpFormat;
  encoding: ContentEncoding;
  /**
   * Decompressed request bytes (protobuf or JSON text). For a body of several frames (zstd frames,
   * gzip members) this is a getter that joins the frames' outputs on first read: a receiver that
   * works frame by frame (`frames`) never pays for that copy of the whole request.
   */
  body: Buffer;
  /** Bytes after decompression (body.length, without reading `body`). */
  decodedBytes: number;
  /** Bytes received on the wire, before decompression. */
  wireBytes: number;
  /**
   * Bodies of independently decodable frames, each declaring its decoded size: zstd bodies whose
   * every frame declared its content size (and no skippable frames), gzip bodies whose every member
   * names its length (gzip-members.ts). Each frame's compressed bytes (a view of the wire body),
   * what it decoded to, and where that sits in `body`; `encoding` says which codec. Lets a receiver
   * keep frames compressed (the enrichment service's compressed splice).
   */
  frames?: FrameSpan[];
  /**
   * For a body of several frames: frees the frames' decompressed bytes at once instead of
   * at a later GC. Call it only when neither `body` nor any `frames[i].decoded` is read or
   * referenced any more (the enrichment service's compressed splice, which stores the frames'
   * wire bytes, after it has checked and counted the decoded ones).
   */
  release?: () => void;
}

/** One frame (zstd frame, gzip member) of a received body: its wire bytes and what it decoded to. */
interface FrameSpan {
  wire: Uint8Array;
  /** This frame's decompressed bytes. */
  decoded: Buffer;
  /** Range of OtlpBody.body that this frame decoded to. */
  start: number;
  end: number;
}

type OtlpBodyResult = OtlpBody | IngestRejection;

const SUPPORTED_TYPES = 'application/x-protobuf, application/json';
const SUPPORTED_ENCODINGS = 'gzip, zstd, identity';

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

function mediaType(contentType: string | undefined): string {
  if (contentType === undefined) return '';
  const semi = contentType.indexOf(';');
  return (semi === -1 ? contentType : contentType.slice(0, semi)).trim().toLowerCase();
}

/**
 * The format to answer in: the request's own format when it is one we speak, else protobuf
 * (the OTLP default). Used for error bodies, including 415 answers.
 */
function responseFormatOf(headers: IncomingHttpHeaders): OtlpFormat {
  return mediaType(headerValue(headers['content-type'])) === 'application/json' ? 'json' : 'protobuf';
}

/** Checks Content-Type, Content-Encoding and Content-Length without reading the body. */
function negotiateOtlpRequest(
  headers: IncomingHttpHeaders,
  limits: IngestLimits,
): { kind: 'ok'; format: OtlpFormat; encoding: ContentEncoding } | IngestRejection {
  const type = mediaType(headerValue(headers['content-type']));
  let format: OtlpFormat;
  if (type === 'application/x-protobuf') format = 'protobuf';
  else if (type === 'application/json') format = 'json';
  else {
    return ingestRejection(
      'SEXTANT_INGEST_UNSUPPORTED_CONTENT_TYPE',
      `Content-Type ${JSON.stringify(type)} is not supported; use one of: ${SUPPORTED_TYPES}`,
    );
  }
  const rawEncoding = (headerValue(headers['content-encoding']) ?? 'identity').trim().toLowerCase();
  let encoding: ContentEncoding;
  if (rawEncoding === '' || rawEncoding === 'identity') encoding = 'identity';
  else if (rawEncoding === 'gzip' || rawEncoding === 'x-gzip') encoding = 'gzip';
  else if (rawEncoding === 'zstd') encoding = 'zstd';
  else {
    return ingestRejection(
      'SEXTANT_INGEST_UNSUPPORTED_ENCODING',
      `Content-Encoding ${JSON.stringify(rawEncoding)} is not supported; use one of: ${SUPPORTED_ENCODINGS}`,
    );
  }
  const declared = headerValue(headers['content-length']);
  if (declared !== undefined) {
    const length = Number(declared);
    if (Number.isFinite(length) && length > limits.maxBodyBytes) {
      return ingestRejection(
        'SEXTANT_INGEST_BODY_TOO_LARGE',
        `Content-Length ${length} exceeds the limit of ${limits.maxBodyBytes} bytes`,
        { closeConnection: true },
      );
    }
  }
  return { kind: 'ok', format, encoding };
}

function collect(payload: Readable, maxBytes: number): Promise<{ kind: 'ok'; body: Buffer } | IngestRejection> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      payload.removeListener('data', onData);
      payload.removeListener('end', onEnd);
      payload.removeListener('error', onError);
      payload.removeListener('aborted', onAborted);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > maxBytes) {
        cleanup();
        chunks.length = 0;
        // Keep draining (and discarding) so the answer can still be read by the client.
        payload.on('error', () => {});
        payload.resume();
        resolve(ingestRejection('SEXTANT_INGEST_BODY_TOO_LARGE', `request body exceeds the limit of ${maxBytes} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ kind: 'ok', body: chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      resolve(ingestRejection('SEXTANT_INGEST_MALFORMED', `request body could not be read: ${err.message}`));
    };
    const onAborted = (): void => onError(new Error('client aborted the request'));
    payload.on('data', onData);
    payload.on('end', onEnd);
    payload.on('error', onError);
    payload.on('aborted', onAborted);
  });
}

function inflateRejection(encoding: 'gzip' | 'zstd', wire: Buffer, maxDecodedBytes: number, err: Error & { code?: string }): IngestRejection {
  if (err.code === 'ERR_BUFFER_TOO_LARGE') {
    return ingestRejection('SEXTANT_INGEST_DECODED_TOO_LARGE', `${encoding} body expands past the limit of ${maxDecodedBytes} bytes (${wire.length} bytes on the wire)`);
  }
  return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `${encoding} body could not be decompressed: ${err.message}`);
}

// Wire bodies up to this size inflate synchronously: for the typical 1–5 KB body of 100 log records
// an async zlib call (stream setup, thread-pool hop) costs ~35–44 µs of CPU against ~13–20 µs for the
// sync call, and in the enrichment benchmark request gunzip was the largest item of the profile
// (bench/README.md "enrichment"). The cap bounds how long the event loop can block: the output
// still stops at maxDecodedBytes.
const SYNC_INFLATE_MAX_WIRE_BYTES = 32 * 1024;
const ASYNC_INFLATE_MAX_CHUNK = 1024 * 1024;

function inflate(encoding: 'gzip' | 'zstd', wire: Buffer, maxDecodedBytes: number): Promise<{ kind: 'ok'; body: Buffer } | IngestRejection> {
  if (wire.length <= SYNC_INFLATE_MAX_WIRE_BYTES) {
    try {
      const out = encoding === 'gzip' ? gunzipSync(wire, { maxOutputLength: maxDecodedBytes }) : zstdDecompressSync(wire, { maxOutputLength: maxDecodedBytes });
      return Promise.resolve({ kind: 'ok', body: out });
    } catch (err) {
      return Promise.resolve(inflateRejection(encoding, wire, maxDecodedBytes, err as Error & { code?: string }));
    }
  }
  // Output chunks sized to the expected body instead of zlib's 16 KiB default: each chunk is one
  // thread-pool round trip plus a callback. A node collector's 2,000-record zstd body (80 KB → 400 KB):
  // 1,870 µs of CPU with 16 KiB chunks, 807 µs with 1 MiB (bench/README.md "enrichment").
  const opts = { maxOutputLength: maxDecodedBytes, chunkSize: Math.max(64, Math.min(maxDecodedBytes, ASYNC_INFLATE_MAX_CHUNK, Math.max(64 * 1024, wire.length * 8))) };
  return new Promise((resolve) => {
    const done = (err: (Error & { code?: string }) | null, out: Buffer): void => {
      resolve(err === null ? { kind: 'ok', body: out } : inflateRejection(encoding, wire, maxDecodedBytes, err));
    };
    if (encoding === 'gzip') gunzip(wire, opts, done);
    else zstdDecompress(wire, opts, done);
  });
}

// One frame of a framed body, decoded to at most maxOutputLength bytes. A gzip member must end
// exactly where it says (the inflater consumes every byte of it): otherwise the member's bytes
// that ingest keeps would not be the member that it checked (node:zlib passes over trailing
// zero bytes after a member, which Go's gzip reader refuses as a bad header).
function inflateFrame(codec: 'gzip' | 'zstd', frame: Buffer, maxOutputLength: number): Promise<Buffer> {
  // One byte more than the frame can decode to: a chunk that the output fills exactly makes
  // node:zlib allocate a second chunk (and, async, make another thread-pool round trip) to learn
  // that nothing follows. 2,000-record frame (51 KB → 322 KB), async: 308–389 µs of CPU with the
  // exact size, 252–280 µs with one byte more (bench/README.md "enrichment"). A small frame gets
  // a small chunk instead of zlib's 16 KiB.
  const chunkSize = Math.max(64, Math.min(maxOutputLength + 1, ASYNC_INFLATE_MAX_CHUNK, Math.max(64 * 1024, frame.length * 8)));
  const checked = (r: { buffer: Buffer; engine: { bytesWritten: number } }): Buffer => {
    if (r.engine.bytesWritten !== frame.length) throw new Error(`gzip member ends after ${r.engine.bytesWritten} of its declared ${frame.length} bytes`);
    return r.buffer;
  };
  if (frame.length <= SYNC_INFLATE_MAX_WIRE_BYTES) {
    try {
      if (codec === 'zstd') return Promise.resolve(zstdDecompressSync(frame, { maxOutputLength, chunkSize }));
      return Promise.resolve(checked(gunzipSync(frame, { maxOutputLength, chunkSize, info: true }) as unknown as { buffer: Buffer; engine: { bytesWritten: number } }));
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
  }
  return new Promise((resolve, reject) => {
    if (codec === 'zstd') {
      zstdDecompress(frame, { maxOutputLength, chunkSize } satisfies ZstdOptions, (err, out) => (err === null ? resolve(out) : reject(err)));
      return;
    }
    // `info: true` makes the callback's result { buffer, engine } (node:zlib zlibBuffer).
    gunzip(frame, { maxOutputLength, chunkSize, info: true } satisfies ZlibOptions, (err, out) => {
      if (err !== null) reject(err);
      else {
        try {
          resolve(checked(out as unknown as { buffer: Buffer; engine: { bytesWritten: number } }));
        } catch (e) {
          reject(e instanceof Error ? e : new Error(String(e)));
        }
      }
    });
  });
}

// Each frame is one zlib call (a few µs even when tiny): without a cap, 16 MiB of 9-byte frames
// would be ~1.8 million calls. The node collector sends two frames per resource, and a request
// holds at most batch.maxRecords (2,000) resources.
const MAX_FRAMES = 8192;

type Inflated = { kind: 'ok'; body: Buffer | Buffer[]; decodedBytes: number; frames?: FrameSpan[] } | IngestRejection;

/** A frame to inflate: its range in the wire body and the decoded size it declares (when it does). */
interface FrameRange {
  start: number;
  end: number;
  declared: number | undefined;
}

const FRAME_WORD = { zstd: 'frame', gzip: 'member' } as const;

// Frame by frame, when every frame declares its size: the sum counts against maxDecodedBytes
// before any inflating, and each frame may not expand past its own declared size (a lying header
// is a 400, never a large allocation). `spans` false: frames are inflated one by one only because
// node:zlib's zstd decoder would stop after the first (see inflateZstd); the result is not framed.
async function inflateFrames(codec: 'gzip' | 'zstd', wire: Buffer, frames: readonly FrameRange[], maxDecodedBytes: number, spans: boolean): Promise<Inflated> {
  const word = FRAME_WORD[codec];
  if (frames.length > MAX_FRAMES) return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `${codec} body has ${frames.length} ${word}s; at most ${MAX_FRAMES} are accepted`);
  let declared = 0;
  for (const f of frames) declared += f.declared ?? 0;
  if (declared > maxDecodedBytes) {
    return ingestRejection('SEXTANT_INGEST_DECODED_TOO_LARGE', `${codec} body declares ${declared} decoded bytes, over the limit of ${maxDecodedBytes} bytes (${wire.length} bytes on the wire)`);
  }
  const pieces: Buffer[] = [];
  const out: FrameSpan[] = [];
  let total = 0;
  for (const f of frames) {
    const frame = wire.subarray(f.start, f.end);
    const cap = f.declared ?? maxDecodedBytes - total;
    let decoded: Buffer;
    try {
      decoded = (f.declared === undefined ? undefined : storedContent(codec, frame, f.declared)) ?? (await inflateFrame(codec, frame, Math.max(1, cap)));
    } catch (err) {
      const e = err as Error & { code?: string };
      if (e.code === 'ERR_BUFFER_TOO_LARGE' && f.declared === undefined) return inflateRejection(codec, wire, maxDecodedBytes, e);
      if (e.code === 'ERR_BUFFER_TOO_LARGE') return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `${codec} ${word} at byte ${f.start} expands past its declared size of ${f.declared} bytes`);
      return inflateRejection(codec, wire, maxDecodedBytes, e);
    }
    if (f.declared !== undefined && decoded.length !== f.declared) {
      return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `${codec} ${word} at byte ${f.start} decoded to ${decoded.length} bytes, not its declared ${f.declared}`);
    }
    out.push({ wire: frame, decoded, start: total, end: total + decoded.length });
    pieces.push(decoded);
    total += decoded.length;
    if (total > maxDecodedBytes) return ingestRejection('SEXTANT_INGEST_DECODED_TOO_LARGE', `${codec} body expands past the limit of ${maxDecodedBytes} bytes (${wire.length} bytes on the wire)`);
  }
  const body = pieces.length === 1 ? (pieces[0] as Buffer) : pieces;
  return spans ? { kind: 'ok', body, decodedBytes: total, frames: out } : { kind: 'ok', body, decodedBytes: total };
}

// zstd, frame by frame: node:zlib's decoder stops after the first frame of a body and drops the
// rest without an error, while a zstd body may be several concatenated frames (RFC 8878 §3.1).
async function inflateZstd(wire: Buffer, maxDecodedBytes: number): Promise<Inflated> {
  const walk = walkZstdFrames(wire);
  if (walk.kind === 'malformed') return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `zstd body could not be decompressed: ${walk.reason}`);
  const frames = walk.frames;
  if (frames.length + walk.skippable > MAX_FRAMES) {
    return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `zstd body has ${frames.length + walk.skippable} frames; at most ${MAX_FRAMES} are accepted`);
  }
  if (frames.some((f) => f.dictionary)) return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', 'zstd body names a dictionary; only frames without a dictionary are accepted');
  if (frames.length === 1 && walk.skippable === 0) {
    const only = frames[0] as (typeof frames)[number];
    if (only.contentSize === undefined || only.contentSize > maxDecodedBytes) {
      const single = await inflate('zstd', wire, maxDecodedBytes);
      return single.kind === 'ok' ? { ...single, decodedBytes: single.body.length } : single;
    }
  }
  const allDeclared = frames.every((f) => f.contentSize !== undefined);
  return inflateFrames('zstd', wire, frames.map((f) => ({ start: f.start, end: f.end, declared: f.contentSize })), maxDecodedBytes, allDeclared && walk.skippable === 0);
}

// gzip: member by member when every member names its length (gzip-members.ts); otherwise one
// stream, which node:zlib reads across members.
async function inflateGzip(wire: Buffer, maxDecodedBytes: number): Promise<Inflated> {
  const walk = walkGzipMembers(wire);
  if (walk.kind === 'malformed') return ingestRejection('SEXTANT_INGEST_BAD_COMPRESSION', `gzip body could not be decompressed: ${walk.reason}`);
  if (walk.kind === 'plain') {
    const single = await inflate('gzip', wire, maxDecodedBytes);
    return single.kind === 'ok' ? { ...single, decodedBytes: single.body.length } : single;
  }
  return inflateFrames('gzip', wire, walk.members.map((m) => ({ start: m.start, end: m.end, declared: m.isize })), maxDecodedBytes, true);
}

// Smallest decompressed frame whose memory release() frees. node:zlib allocates each output
// chunk with Buffer.allocUnsafe(chunkSize), which takes a slice of the shared 8 KiB pool only
// below 4 KiB; anything this large is an ArrayBuffer of its own.
const RELEASE_MIN_BYTES = 64 * 1024;

/**
 * Detaches the ArrayBuffers of large decompressed frames (ArrayBuffer.prototype.transfer(0) frees
 * the memory now). By default V8 frees Buffer memory only in a full GC, and the node collector's
 * 2,000-record frames are ~0.5 MB each: in the enrichment benchmark they drove a mark-compact
 * every ~150 ms (bench/README.md "enrichment"). Only buffers that zlib allocated for one frame
 * alone are detached; they never reach I/O.
 */
function releaseDecoded(pieces: readonly Buffer[]): void {
  for (const p of pieces) {
    const ab = p.buffer;
    if (ab instanceof ArrayBuffer && !ab.detached && p.byteOffset === 0 && ab.byteLength >= RELEASE_MIN_BYTES && ab.byteLength - p.byteLength <= 1) ab.transfer(0);
  }
}

/**
 * Reads and decompresses one OTLP/HTTP request body. Never throws: every problem is an
 * IngestRejection carrying its HTTP status (400, 413 or 415).
 */
async function readOtlpBody(payload: Readable, headers: IncomingHttpHeaders, limits: IngestLimits = DEFAULT_INGEST_LIMITS): Promise<OtlpBodyResult> {
  const negotiated = negotiateOtlpRequest(headers, limits);
  if (negotiated.kind === 'rejected') return negotiated;
  const wire = await collect(payload, limits.maxBodyBytes);
  if (wire.kind === 'rejected') return wire;
  const wireBytes = wire.body.length;
  if (negotiated.encoding === 'identity') {
    if (wireBytes > limits.maxDecodedBytes) {
      return ingestRejection('SEXTANT_INGEST_DECODED_TOO_LARGE', `request body of ${wireBytes} bytes exceeds the limit of ${limits.maxDecodedBytes} bytes`);
    }
    return { kind: 'ok', format: negotiated.format, encoding: 'identity', body: wire.body, decodedBytes: wireBytes, wireBytes };
  }
  const z = negotiated.encoding === 'zstd' ? await inflateZstd(wire.body, limits.maxDecodedBytes) : await inflateGzip(wire.body, limits.maxDecodedBytes);
  if (z.kind === 'rejected') return z;
  const pieces = z.body;
  if (!Array.isArray(pieces)) {
    const ok: OtlpBody = { kind: 'ok', format: negotiated.format, encoding: negotiated.encoding, body: pieces, decodedBytes: z.decodedBytes, wireBytes };
    if (z.frames !== undefined) ok.frames = z.frames;
    return ok;
  }
  // Joined only when read: the enrichment service's compressed splice reads the frames one by
  // one, and this copy of the whole decoded request (Buffer.concat) was 8% of its main thread
  // and a second large allocation per request (bench/README.md "enrichment").
  let joined: Buffer | undefined;
  const ok: OtlpBody = {
    kind: 'ok',
    format: negotiated.format,
    encoding: negotiated.encoding,
    get body(): Buffer {
      return (joined ??= Buffer.concat(pieces, z.decodedBytes));
    },
    decodedBytes: z.decodedBytes,
    wireBytes,
  };
  if (z.frames !== undefined) ok.frames = z.frames;
  ok.release = () => releaseDecoded(pieces);
  return ok;
}

/**
 * A fastify content-type parser (register it for '*', after removeAllContentTypeParsers(),
 * in the context that holds the OTLP routes). request.body becomes an OtlpBodyResult; the
 * route answers rejections with rejectionResponse(). fastify's bodyLimit does not apply to
 * stream parsers, so the limits here are the only ones.
 */
function createOtlpBodyParser(
  limits: IngestLimits = DEFAULT_INGEST_LIMITS,
): (request: { headers: IncomingHttpHeaders }, payload: Readable) => Promise<OtlpBodyResult> {
  return (request, payload) => readOtlpBody(payload, request.headers, limits);
}

export { DEFAULT_INGEST_LIMITS, createOtlpBodyParser, negotiateOtlpRequest, readOtlpBody, responseFormatOf };
export type { ContentEncoding, FrameSpan, IngestLimits, OtlpBody, OtlpBodyResult };
