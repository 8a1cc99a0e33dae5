// Reader of one systemd journal file, from the documented on-disk format (systemd docs/JOURNAL_FILE_FORMAT.md):
// a little-endian header, then 8-byte aligned objects (16-byte object header: type, flags, size). Entries are
// listed through the global ENTRY_ARRAY chain that starts at header.entry_array_offset; each ENTRY names its DATA
// objects ("FIELD=value", possibly zstd/xz/lz4 compressed). In compact files (incompatible flag COMPACT) entry
// items and array items are 32-bit offsets, and DATA payloads start 8 bytes later.
//
// journald appends in place while we read (single writer, lock-free readers), so everything read is checked:
// an offset must be aligned and inside the arena, an object must have the expected type and a sane size. Only
// entries below header.n_entries are read. A check that fails on a file that is ONLINE may be a write in
// progress; the caller retries it later (see directory.ts), so nothing here throws past the caller's loop.
import type { FileHandle } from 'node:fs/promises';
import { open } from 'node:fs/promises';
import { zstdDecompressSync } from 'node:zlib';
import { JournalError } from './errors.ts';

const SIGNATURE = Buffer.from('LPKSHHRH', 'latin1');

const INCOMPAT_XZ = 1;
const INCOMPAT_LZ4 = 2;
const INCOMPAT_KEYED_HASH = 4;
const INCOMPAT_ZSTD = 8;
const INCOMPAT_COMPACT = 16;
const INCOMPAT_KNOWN = INCOMPAT_XZ | INCOMPAT_LZ4 | INCOMPAT_KEYED_HASH | INCOMPAT_ZSTD | INCOMPAT_COMPACT;

const OBJ_DATA = 1;
const OBJ_ENTRY = 3;
const OBJ_ENTRY_ARRAY = 6;

const OBJ_COMPRESSED_XZ = 1;
const OBJ_COMPRESSED_LZ4 = 2;
const OBJ_COMPRESSED_ZSTD = 4;

/** Header state byte. */
type JournalState = 'offline' | 'online' | 'archived' | 'unknown';

/** Up to n_data every header has; later fields depend on header_size (format doc "Extensibility"). */
const MIN_HEADER_SIZE = 208;
const HEADER_READ = 272;

interface JournalHeader {
  compatibleFlags: number;
  incompatibleFlags: number;
  state: JournalState;
  fileId: string;
  machineId: string;
  tailEntryBootId: string;
  seqnumId: string;
  headerSize: number;
  arenaSize: number;
  tailObjectOffset: number;
  nObjects: number;
  nEntries: number;
  tailEntrySeqnum: bigint;
  headEntrySeqnum: bigint;
  entryArrayOffset: number;
  headEntryRealtime: bigint;
  tailEntryRealtime: bigint;
  tailEntryMonotonic: bigint;
  compact: boolean;
}

/** One journal entry as read from a file. */
interface JournalEntry {
  /** Field name → value (the first value when a field repeats; see `repeated`). Values are binary-safe. */
  fields: Map<string, Buffer>;
  /** Further values of fields that occur more than once in this entry (rare), in file order. */
  repeated: Map<string, Buffer[]> | undefined;
  /** Wall-clock time journald received the entry, µs since the Unix epoch. */
  realtime: bigint;
  /** CLOCK_MONOTONIC µs of boot `bootId`. */
  monotonic: bigint;
  /** 32 hex digits. */
  bootId: string;
  seqnum: bigint;
  /** 32 hex digits; seqnums are comparable between entries of the same seqnum_id. */
  seqnumId: string;
  xorHash: bigint;
  /** journald's cursor syntax: `s=<seqnum_id>;i=<seqnum>;b=<boot_id>;m=<monotonic>;t=<realtime>;x=<xor_hash>` (hex). */
  cursor: string;
  /** file_id of the file holding it, and its index in that file's entry array chain. */
  fileId: string;
  index: number;
  /** Fields left out: compressed with XZ or LZ4 (no decoder here), or not decodable. */
  skippedFields: number;
}

type NextResult = { kind: 'entry'; entry: JournalEntry } | { kind: 'none' } | { kind: 'bad_entry'; error: JournalError };

type SkipReason = 'compression_xz' | 'compression_lz4' | 'corrupt_data' | 'too_large';

const hex = (b: Buffer, at: number): string => b.toString('hex', at, at + 16);

function parseHeader(b: Buffer, path: string): JournalHeader {
  if (b.length < MIN_HEADER_SIZE || !b.subarray(0, 8).equals(SIGNATURE)) {
    throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_NOT_JOURNAL', `${path} (${b.length} header bytes)`);
  }
  const incompatibleFlags = b.readUInt32LE(12);
  if ((incompatibleFlags & ~INCOMPAT_KNOWN) !== 0) {
    throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_UNSUPPORTED', `${path}: incompatible_flags 0x${incompatibleFlags.toString(16)}, known 0x${INCOMPAT_KNOWN.toString(16)}`);
  }
  const st = b.readUInt8(16);
  const num = (at: number): number => {
    const v = b.readBigUInt64LE(at);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${path}: header field at ${at} is ${v}`);
    return Number(v);
  };
  const h: JournalHeader = {
    compatibleFlags: b.readUInt32LE(8),
    incompatibleFlags,
    state: st === 0 ? 'offline' : st === 1 ? 'online' : st === 2 ? 'archived' : 'unknown',
    fileId: hex(b, 24),
    machineId: hex(b, 40),
    tailEntryBootId: hex(b, 56),
    seqnumId: hex(b, 72),
    headerSize: num(88),
    arenaSize: num(96),
    tailObjectOffset: num(136),
    nObjects: num(144),
    nEntries: num(152),
    tailEntrySeqnum: b.readBigUInt64LE(160),
    headEntrySeqnum: b.readBigUInt64LE(168),
    entryArrayOffset: num(176),
    headEntryRealtime: b.readBigUInt64LE(184),
    tailEntryRealtime: b.readBigUInt64LE(192),
    tailEntryMonotonic: b.readBigUInt64LE(200),
    compact: (incompatibleFlags & INCOMPAT_COMPACT) !== 0,
  };
  if (h.headerSize < MIN_HEADER_SIZE || h.headerSize % 8 !== 0) {
    throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${path}: header_size ${h.headerSize}, need a multiple of 8 ≥ ${MIN_HEADER_SIZE}`);
  }
  return h;
}

function cursorOf(seqnumId: string, seqnum: bigint, bootId: string, monotonic: bigint, realtime: bigint, xor: bigint): string {
  return `s=${seqnumId};i=${seqnum.toString(16)};b=${bootId};m=${monotonic.toString(16)};t=${realtime.toString(16)};x=${xor.toString(16)}`;
}

const CHUNK = 64 * 1024;
const MAX_CHUNKS = 64;
const DATA_CACHE_MAX = 4096;
const DATA_CACHE_MAX_BYTES = 1024;

interface DataValue {
  name: string;
  value: Buffer;
}

interface FileReadHooks {
  onSkippedField(reason: SkipReason): void;
}

/** One open journal file, read entry by entry through its global entry array chain. */
interface JournalFile {
  readonly path: string;
  /** As of the last refresh() (or open). */
  readonly header: JournalHeader;
  /** Entries below this index were returned or skipped. */
  readonly consumed: number;
  /** Entries the header knows and that were not consumed yet. */
  readonly available: number;
  /** Re-reads the header and size (after journald appended); drops cached bytes. */
  refresh(): Promise<{ changed: boolean }>;
  next(hooks: FileReadHooks): Promise<NextResult>;
  peekSeqnum(): Promise<bigint | undefined>;
  skip(): void;
  seekIndex(index: number): void;
  close(): Promise<void>;
}

/** Position in the global entry array chain, so each read continues where the last stopped. */
interface ArrayCursor {
  off: number;
  base: number;
  cap: number;
}

class JournalFileReader implements JournalFile {
  readonly path: string;
  header: JournalHeader;
  size: number;
  /** Entries below this index were returned (or skipped). */
  consumed = 0;
  private readonly fh: FileHandle;
  private readonly chunks = new Map<number, Buffer>();
  private readonly dataCache = new Map<number, DataValue | null>();
  private arr: ArrayCursor | undefined;
  private readonly maxFieldBytes: number;
  private closed = false;

  constructor(path: string, fh: FileHandle, header: JournalHeader, size: number, maxFieldBytes: number) {
    this.path = path;
    this.fh = fh;
    this.header = header;
    this.size = size;
    this.maxFieldBytes = maxFieldBytes;
  }

  get itemSize(): number {
    return this.header.compact ? 4 : 8;
  }

  /** Re-reads the header and size; drops cached bytes (journald links new objects into older ones). */
  async refresh(): Promise<{ changed: boolean }> {
    const b = Buffer.alloc(HEADER_READ);
    const { bytesRead } = await this.fh.read(b, 0, HEADER_READ, 0);
    const h = parseHeader(b.subarray(0, bytesRead), this.path);
    const size = Number((await this.fh.stat()).size);
    const changed =
      h.nEntries !== this.header.nEntries || h.arenaSize !== this.header.arenaSize || h.state !== this.header.state || h.entryArrayOffset !== this.header.entryArrayOffset || size !== this.size;
    if (h.fileId !== this.header.fileId) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${this.path}: file_id changed`);
    this.header = h;
    this.size = size;
    this.chunks.clear();
    if (this.arr !== undefined && this.arr.off !== 0 && this.header.entryArrayOffset === 0) this.arr = undefined;
    return { changed };
  }

  /** Entries known to the header and not yet consumed. */
  get available(): number {
    return Math.max(0, this.header.nEntries - this.consumed);
  }

  private arenaEnd(): number {
    return this.header.headerSize + this.header.arenaSize;
  }

  private corrupt(detail: string): JournalError {
    return new JournalError('SEXTANT_COLLECTOR_JOURNAL_CORRUPT', `${this.path}: ${detail}`);
  }

  private async bytes(off: number, len: number): Promise<Buffer> {
    // a file cut short (header_size + arena_size beyond its size) is read up to where it ends
    if (off + len > this.size) {
      throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_TRUNCATED', `${this.path}: ${len} bytes at ${off} are past the end of the file (${this.size} bytes, arena ends at ${this.arenaEnd()})`);
    }
    if (len > 4 * CHUNK) {
      const b = Buffer.alloc(len);
      const { bytesRead } = await this.fh.read(b, 0, len, off);
      if (bytesRead < len) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_TRUNCATED', `${this.path}: object at ${off} ends past end of file`);
      return b;
    }
    const first = Math.floor(off / CHUNK);
    const last = Math.floor((off + len - 1) / CHUNK);
    const parts: Buffer[] = [];
    for (let c = first; c <= last; c++) {
      let chunk = this.chunks.get(c);
      if (chunk === undefined) {
        chunk = Buffer.alloc(CHUNK);
        const { bytesRead } = await this.fh.read(chunk, 0, CHUNK, c * CHUNK);
        chunk = chunk.subarray(0, bytesRead);
        if (this.chunks.size >= MAX_CHUNKS) {
          const oldest = this.chunks.keys().next();
          if (oldest.done !== true) this.chunks.delete(oldest.value);
        }
        this.chunks.set(c, chunk);
      }
      parts.push(chunk);
    }
    const joined = parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts);
    const start = off - first * CHUNK;
    if (start + len > joined.length) throw new JournalError('SEXTANT_COLLECTOR_JOURNAL_TRUNCATED', `${this.path}: object at ${off} ends past end of file`);
    return joined.subarray(start, start + len);
  }

  /** Reads and checks the object at `off`, returning its whole bytes. */
  private async object(off: number, type: number, minSize: number): Promise<{ b: Buffer; flags: number }> {
    if (off % 8 !== 0 || off < this.header.headerSize || off + 16 > this.arenaEnd()) throw this.corrupt(`object offset ${off} outside the arena [${this.header.headerSize}, ${this.arenaEnd()}) or unaligned`);
    const h = await this.bytes(off, 16);
    const t = h.readUInt8(0);
    const size = h.readBigUInt64LE(8);
    if (t !== type) throw this.corrupt(`object at ${off} has type ${t}, expected ${type}`);
    if (size < BigInt(minSize) || BigInt(off) + size > BigInt(this.arenaEnd())) throw this.corrupt(`object at ${off} has size ${size}`);
    const n = Number(size);
    if (n > this.maxFieldBytes + 4096) {
      // a DATA object this large is refused rather than allocated; the caller counts it
      return { b: h, flags: -1 };
    }
    return { b: await this.bytes(off, n), flags: h.readUInt8(1) };
  }

  /** Offset of the entry at `this.consumed`, or undefined if it is not linked yet. */
  private async entryOffset(): Promise<number | undefined> {
    if (this.consumed >= this.header.nEntries) return undefined;
    const item = this.itemSize;
    if (this.arr === undefined) {
      if (this.header.entryArrayOffset === 0) return undefined;
      this.arr = await this.arrayAt(this.header.entryArrayOffset, 0);
    }
    // a resumed reader may start far into the chain; walk arrays until the one holding `consumed`
    while (this.consumed >= this.arr.base + this.arr.cap) {
      const b = await this.bytes(this.arr.off + 16, 8);
      const next = Number(b.readBigUInt64LE(0));
      if (next === 0) return undefined;
      if (next <= this.arr.off) throw this.corrupt(`entry array at ${this.arr.off} links back to ${next}`);
      this.arr = await this.arrayAt(next, this.arr.base + this.arr.cap);
    }
    const at = this.arr.off + 24 + (this.consumed - this.arr.base) * item;
    const b = await this.bytes(at, item);
    const off = item === 4 ? b.readUInt32LE(0) : Number(b.readBigUInt64LE(0));
    return off === 0 ? undefined : off;
  }

  private async arrayAt(off: number, base: number): Promise<ArrayCursor> {
    if (off % 8 !== 0 || off < this.header.headerSize || off + 24 > this.arenaEnd()) throw this.corrupt(`entry array offset ${off} outside the arena or unaligned`);
    const h = await this.bytes(off, 16);
    if (h.readUInt8(0) !== OBJ_ENTRY_ARRAY) throw this.corrupt(`object at ${off} has type ${h.readUInt8(0)}, expected an entry array`);
    const size = Number(h.readBigUInt64LE(8));
    if (size < 24 || off + size > this.arenaEnd()) throw this.corrupt(`entry array at ${off} has size ${size}`);
    return { off, base, cap: Math.floor((size - 24) / this.itemSize) };
  }

  /**
   * Reads the next entry. `none` when none is ready (the header knows no more, or the next one is not linked yet).
   * `bad_entry` when the entry array leads to an entry (or DATA) object that does not check out: `consumed` is
   * unchanged, so the caller may retry later (file ONLINE: a write in progress) or skip() it. Throws JournalError
   * when the entry array chain itself is broken (nothing after it is reachable).
   */
  async next(hooks: FileReadHooks): Promise<NextResult> {
    const off = await this.entryOffset();
    if (off === undefined) return { kind: 'none' };
    try {
      const entry = await this.readEntry(off, hooks);
      this.consumed++;
      return { kind: 'entry', entry };
    } catch (e) {
      if (e instanceof JournalError) return { kind: 'bad_entry', error: e };
      throw e;
    }
  }

  /** Reads only the seqnum of the entry at `consumed` (used to resume), or undefined if not ready. */
  async peekSeqnum(): Promise<bigint | undefined> {
    const off = await this.entryOffset();
    if (off === undefined) return undefined;
    const { b } = await this.object(off, OBJ_ENTRY, 64);
    return b.readBigUInt64LE(16);
  }

  /** Gives up on the entry at `consumed` (counted by the caller). */
  skip(): void {
    this.consumed++;
  }

  /** Moves to `index` without reading (resume); the caller checks the seqnum there. */
  seekIndex(index: number): void {
    this.consumed = index;
    if (this.arr !== undefined && index < this.arr.base) this.arr = undefined;
  }

  private async readEntry(off: number, hooks: FileReadHooks): Promise<JournalEntry> {
    const { b, flags } = await this.object(off, OBJ_ENTRY, 64);
    if (flags === -1) throw this.corrupt(`entry at ${off} is larger than ${this.maxFieldBytes} bytes`);
    const seqnum = b.readBigUInt64LE(16);
    const realtime = b.readBigUInt64LE(24);
    const monotonic = b.readBigUInt64LE(32);
    const bootId = hex(b, 40);
    const xorHash = b.readBigUInt64LE(56);
    const stride = this.header.compact ? 4 : 16;
    const n = Math.floor((b.length - 64) / stride);
    const fields = new Map<string, Buffer>();
    let repeated: Map<string, Buffer[]> | undefined;
    let skippedFields = 0;
    for (let i = 0; i < n; i++) {
      const at = 64 + i * stride;
      const dOff = this.header.compact ? b.readUInt32LE(at) : Number(b.readBigUInt64LE(at));
      // most DATA objects (unit, host, pid…) repeat: a cache hit costs no await
      const hit = this.dataCache.get(dOff);
      const d = hit !== undefined ? hit : await this.data(dOff, hooks);
      if (d === null) {
        skippedFields++;
        continue;
      }
      const prev = fields.get(d.name);
      if (prev === undefined) fields.set(d.name, d.value);
      else {
        repeated ??= new Map();
        const list = repeated.get(d.name);
        if (list === undefined) repeated.set(d.name, [d.value]);
        else list.push(d.value);
      }
    }
    return {
      fields,
      repeated,
      realtime,
      monotonic,
      bootId,
      seqnum,
      seqnumId: this.header.seqnumId,
      xorHash,
      cursor: cursorOf(this.header.seqnumId, seqnum, bootId, monotonic, realtime, xorHash),
      fileId: this.header.fileId,
      index: this.consumed,
      skippedFields,
    };
  }

  /** A DATA object's name and value; null (counted) when it cannot be decoded. Structural errors throw. */
  private async data(off: number, hooks: FileReadHooks): Promise<DataValue | null> {
    const cached = this.dataCache.get(off);
    if (cached !== undefined) return cached;
    const headerLen = this.header.compact ? 72 : 64;
    const { b, flags } = await this.object(off, OBJ_DATA, headerLen);
    let result: DataValue | null;
    if (flags === -1) {
      hooks.onSkippedField('too_large');
      result = null;
    } else if ((flags & OBJ_COMPRESSED_XZ) !== 0) {
      hooks.onSkippedField('compression_xz');
      result = null;
    } else if ((flags & OBJ_COMPRESSED_LZ4) !== 0) {
      hooks.onSkippedField('compression_lz4');
      result = null;
    } else {
      let payload: Buffer | undefined = b.subarray(headerLen);
      if ((flags & OBJ_COMPRESSED_ZSTD) !== 0) {
        try {
          payload = zstdDecompressSync(payload, { maxOutputLength: this.maxFieldBytes + 256 });
        } catch {
          payload = undefined;
        }
      }
      const eq = payload === undefined ? -1 : payload.indexOf(0x3d);
      if (payload === undefined || eq <= 0) {
        hooks.onSkippedField(payload !== undefined && payload.length > this.maxFieldBytes ? 'too_large' : 'corrupt_data');
        result = null;
      } else {
        // copy out of the chunk cache, whose buffers are reused
        result = { name: payload.toString('latin1', 0, eq), value: Buffer.from(payload.subarray(eq + 1)) };
      }
    }
    if (result === null || result.value.length <= DATA_CACHE_MAX_BYTES) {
      if (this.dataCache.size >= DATA_CACHE_MAX) {
        const oldest = this.dataCache.keys().next();
        if (oldest.done !== true) this.dataCache.delete(oldest.value);
      }
      this.dataCache.set(off, result);
    }
    return result;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.fh.close();
  }
}

/** Opens a journal file and checks its header. Throws JournalError (or the fs error) if it cannot be read. */
async function openJournalFile(path: string, maxFieldBytes = 16 * 1024 * 1024): Promise<JournalFile> {
  const fh = await open(path, 'r');
  try {
    const b = Buffer.alloc(HEADER_READ);
    const { bytesRead } = await fh.read(b, 0, HEADER_READ, 0);
    const header = parseHeader(b.subarray(0, bytesRead), path);
    const size = Number((await fh.stat()).size);
    return new JournalFileReader(path, fh, header, size, maxFieldBytes);
  } catch (e) {
    await fh.close();
    throw e;
  }
}

export { openJournalFile, cursorOf, parseHeader };
export type { JournalFile, NextResult, JournalEntry, JournalHeader, JournalState, SkipReason, FileReadHooks };
