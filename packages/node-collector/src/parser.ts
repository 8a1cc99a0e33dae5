// Line parsing for container log files: CRI (`<time> <stream> <P|F> <msg>`) and docker json-file, detected per file.
// Partial lines (CRI `P`, docker lines without a trailing "\n") are joined per stream. The join state lives in
// the FileParser, so it survives any pause in reading; `minPendingStart()` tells the caller how far back a
// checkpoint must stay so that a restart re-reads every unfinished record (LESSONS.md "Parsing").
import { isUtf8 } from 'node:buffer';
import { parseRfc3339Nano } from './timestamp.ts';

type Stream = 'stdout' | 'stderr';
type LogFormat = 'cri' | 'docker';

/** One parsed record. `body` may alias a reused read buffer: it is valid only during the emit call. */
interface ParsedRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** Valid UTF-8 (invalid sequences were replaced by U+FFFD, see `invalidUtf8`). */
  body: Uint8Array;
  stream: Stream | undefined;
  truncated: boolean;
  parseError: boolean;
  invalidUtf8: boolean;
  /** Offset from which a restart re-reads everything not yet delivered once this record is acked. */
  resumeOffset: number;
  /**
   * Streams (1 stdout, 2 stderr) whose P/F join was under way at `resumeOffset` and is already delivered: after a
   * restart there, that stream's parts up to its next F are skipped, so no tail of a delivered record comes back alone.
   */
  resumeSkip: number;
  /** Offset just past the last line of this record. */
  endOffset: number;
}

interface ParserHooks {
  onTruncated(): void;
  onSkippedBytes(reason: 'record_too_large', n: number): void;
  onParseError(format: LogFormat): void;
  onInvalidUtf8(): void;
}

interface MultilineOptions {
  /** A record matching this starts a new multi-line group; others are appended to the group with "\n". */
  firstLine: RegExp;
  /** A group waiting longer than this for its next line is emitted (default 1000 ms). */
  flushAfterMs: number;
}

interface ParserOptions {
  maxRecordBytes: number;
  hooks: ParserHooks;
  multiline?: MultilineOptions | undefined;
}

type Emit = (r: ParsedRecord) => void;

class Pending {
  parts: Uint8Array[] = [];
  size = 0;
  start = 0;
  end = 0;
  time = 0n;
  truncated = false;
  parseError = false;
  since = 0;
  active = false;
  reset(): void {
    this.parts = [];
    this.size = 0;
    this.truncated = false;
    this.parseError = false;
    this.active = false;
  }
}

const NL = 10;
const SP = 32;
const STDOUT = Buffer.from('stdout');
const STDERR = Buffer.from('stderr');
const NEWLINE = Buffer.from('\n');

function sameBytes(b: Uint8Array, at: number, word: Buffer): boolean {
  for (let i = 0; i < word.length; i++) if (b[at + i] !== word[i]) return false;
  return true;
}

/** Largest length <= len that does not cut a UTF-8 sequence of `b`. */
function utf8Cut(b: Uint8Array, len: number): number {
  if (len >= b.length) return b.length;
  let l = len;
  for (let k = 0; k < 3 && l > 0 && ((b[l] ?? 0) & 0xc0) === 0x80; k++) l--;
  return l;
}

function concat(parts: Uint8Array[], size: number): Uint8Array {
  if (parts.length === 1) return parts[0] ?? new Uint8Array(0);
  return Buffer.concat(parts, size);
}

class FileParser {
  format: LogFormat | undefined;
  private readonly maxRecord: number;
  private readonly maxLine: number;
  private readonly hooks: ParserHooks;
  private readonly multiline: MultilineOptions | undefined;
  // line assembly across reads
  private carry: Buffer = Buffer.alloc(0);
  private carryLen = 0;
  private carryStart = -1;
  private carryOverflow = 0;
  // join state per stream, and multi-line groups per stream
  private readonly partial: Record<Stream, Pending> = { stdout: new Pending(), stderr: new Pending() };
  private readonly group: Record<Stream, Pending> = { stdout: new Pending(), stderr: new Pending() };
  private observed = 0n;
  private emit: Emit = () => undefined;
  // per stream, the delivered records that end after the last resume offset (file order), to compute resumeSkip
  private readonly spans: Record<Stream, number[]> = { stdout: [], stderr: [] };
  private skip = 0;

  constructor(opts: ParserOptions) {
    this.maxRecord = opts.maxRecordBytes;
    this.maxLine = opts.maxRecordBytes + 4096;
    this.hooks = opts.hooks;
    this.multiline = opts.multiline;
  }

  /** After a restart at a checkpoint: the streams whose parts up to their next F belong to delivered records. */
  setResumeSkip(mask: number): void {
    this.skip = mask & 3;
  }

  /** The resumeSkip mask for a restart at `offset` (not before the last record's resume offset). */
  skipMaskAt(offset: number): number {
    let mask = 0;
    for (const [bit, s] of [[1, 'stdout'], [2, 'stderr']] as const) {
      const sp = this.spans[s];
      let i = 0;
      while (i < sp.length && (sp[i + 1] ?? 0) <= offset) i += 2;
      if (i < sp.length && (sp[i] ?? 0) < offset) mask |= bit;
    }
    return mask;
  }

  /** Lowest file offset at which an unfinished record (line, partial join or multi-line group) starts. */
  minPendingStart(): number | undefined {
    let m: number | undefined = this.carryStart >= 0 ? this.carryStart : undefined;
    for (const p of [this.partial.stdout, this.partial.stderr, this.group.stdout, this.group.stderr]) {
      if (p.active && (m === undefined || p.start < m)) m = p.start;
    }
    return m;
  }

  /** Bytes held for unfinished records. */
  pendingBytes(): number {
    return this.carryLen + this.partial.stdout.size + this.partial.stderr.size + this.group.stdout.size + this.group.stderr.size;
  }

  /** Feeds `buf[0, n)`, read at file offset `base`. Complete records are passed to `emit` synchronously. */
  push(buf: Buffer, n: number, base: number, observedNs: bigint, emit: Emit): void {
    this.observed = observedNs;
    this.emit = emit;
    let pos = 0;
    while (pos < n) {
      let nl = buf.indexOf(NL, pos);
      if (nl >= n) nl = -1;
      if (nl === -1) {
        this.appendCarry(buf, pos, n, base);
        break;
      }
      if (this.carryStart >= 0) {
        this.appendCarry(buf, pos, nl, base);
        const start = this.carryStart;
        const over = this.carryOverflow;
        const line = this.carry.subarray(0, this.carryLen);
        this.carryStart = -1;
        this.carryLen = 0;
        this.carryOverflow = 0;
        this.line(line, start, base + nl + 1, over);
        if (this.carry.length > 1 << 20) this.carry = Buffer.alloc(0);
      } else {
        this.line(buf.subarray(pos, nl), base + pos, base + nl + 1, 0);
      }
      pos = nl + 1;
    }
  }

  /** Emits every unfinished line, partial and group as it is (at the close of a rotated or deleted file). */
  flush(emit: Emit, observedNs: bigint): void {
    this.observed = observedNs;
    this.emit = emit;
    if (this.carryStart >= 0) {
      const start = this.carryStart;
      const over = this.carryOverflow;
      const line = this.carry.subarray(0, this.carryLen);
      const end = start + this.carryLen + over;
      this.carryStart = -1;
      this.carryLen = 0;
      this.carryOverflow = 0;
      this.line(line, start, end, over);
    }
    for (const s of ['stdout', 'stderr'] as const) {
      const p = this.partial[s];
      if (p.active) this.finishJoin(s, p.end);
      const g = this.group[s];
      if (g.active) this.emitGroup(s, g.end);
    }
  }

  /** Emits multi-line groups idle for longer than their flush time. */
  flushIdleGroups(emit: Emit, nowMs: number, observedNs: bigint): void {
    if (this.multiline === undefined) return;
    this.observed = observedNs;
    this.emit = emit;
    for (const s of ['stdout', 'stderr'] as const) {
      const g = this.group[s];
      if (g.active && !this.partial[s].active && nowMs - g.since >= this.multiline.flushAfterMs) this.emitGroup(s, g.end);
    }
  }

  /** Forgets all state (after a copytruncate, the old offsets mean nothing). */
  reset(): void {
    this.skip = 0;
    this.spans.stdout = [];
    this.spans.stderr = [];
    this.carryStart = -1;
    this.carryLen = 0;
    this.carryOverflow = 0;
    for (const p of [this.partial.stdout, this.partial.stderr, this.group.stdout, this.group.stderr]) p.reset();
  }

  private appendCarry(buf: Buffer, from: number, to: number, base: number): void {
    if (this.carryStart < 0) {
      this.carryStart = base + from;
      this.carryLen = 0;
      this.carryOverflow = 0;
    }
    const room = this.maxLine - this.carryLen;
    const take = Math.min(room, to - from);
    if (take > 0) {
      if (this.carry.length < this.carryLen + take) {
        const grown = Buffer.allocUnsafe(Math.min(this.maxLine, Math.max(this.carryLen + take, this.carry.length * 2, 4096)));
        this.carry.copy(grown, 0, 0, this.carryLen);
        this.carry = grown;
      }
      buf.copy(this.carry, this.carryLen, from, from + take);
      this.carryLen += take;
    }
    if (to - from > take) {
      const dropped = to - from - take;
      this.carryOverflow += dropped;
      this.hooks.onSkippedBytes('record_too_large', dropped);
    }
  }

  private line(b: Uint8Array, start: number, end: number, overflow: number): void {
    if (this.format === undefined) this.format = b[0] === 123 ? 'docker' : 'cri'; // '{'
    if (this.format === 'cri') this.criLine(b, start, end, overflow > 0);
    else this.dockerLine(b, start, end, overflow > 0);
  }

  private criLine(b: Uint8Array, start: number, end: number, cut: boolean): void {
    const s1 = b.indexOf(SP);
    const time = s1 > 0 ? parseRfc3339Nano(b, 0, s1) : undefined;
    let stream: Stream | undefined;
    if (time !== undefined && b[s1 + 7] === SP) {
      if (sameBytes(b, s1 + 1, STDOUT)) stream = 'stdout';
      else if (sameBytes(b, s1 + 1, STDERR)) stream = 'stderr';
    }
    const tag = b[s1 + 8];
    const afterTag = b[s1 + 9];
    if (time === undefined || stream === undefined || (tag !== 70 && tag !== 80) || (afterTag !== SP && s1 + 9 !== b.length)) {
      this.malformed(b, start, end, cut);
      return;
    }
    const msg = b.subarray(Math.min(s1 + 10, b.length));
    this.part(stream, time, msg, tag === 80, start, end, cut, false);
  }

  private dockerLine(b: Uint8Array, start: number, end: number, cut: boolean): void {
    const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8');
    let log: string | undefined;
    let stream: Stream | undefined;
    let time: bigint | undefined;
    if (cut) {
      log = salvageDockerLog(text);
    } else {
      try {
        const v: unknown = JSON.parse(text);
        if (typeof v === 'object' && v !== null) {
          const o = v as { log?: unknown; stream?: unknown; time?: unknown };
          if (typeof o.log === 'string') log = o.log;
          if (o.stream === 'stdout' || o.stream === 'stderr') stream = o.stream;
          if (typeof o.time === 'string') {
            const tb = Buffer.from(o.time, 'latin1');
            time = parseRfc3339Nano(tb, 0, tb.length);
          }
        }
      } catch {
        // falls through to malformed
      }
    }
    if (log === undefined || (!cut && (stream === undefined || time === undefined))) {
      this.malformed(b, start, end, cut);
      return;
    }
    const partial = !cut && !log.endsWith('\n');
    const msg = Buffer.from(partial || cut ? log : log.slice(0, -1), 'utf8');
    if (stream === undefined || time === undefined) {
      // a truncated line lost its stream and time fields, which follow "log"
      this.deliver(undefined, time ?? this.observed, [msg], msg.length, true, false, start, end);
      return;
    }
    this.part(stream, time, msg, partial, start, end, cut, false);
  }

  private malformed(b: Uint8Array, start: number, end: number, cut: boolean): void {
    this.hooks.onParseError(this.format ?? 'cri');
    this.deliver(undefined, this.observed, [b], b.length, cut, true, start, end);
  }

  private part(stream: Stream, time: bigint, msg: Uint8Array, isPartial: boolean, start: number, end: number, cut: boolean, parseError: boolean): void {
    const bit = stream === 'stdout' ? 1 : 2;
    if ((this.skip & bit) !== 0) {
      // the rest of a join delivered before the restart
      if (!isPartial) this.skip &= ~bit;
      return;
    }
    const p = this.partial[stream];
    if (!p.active && !isPartial) {
      // the common case: a whole line, no copy
      this.logical(stream, time, [msg], msg.length, cut, parseError, start, end);
      return;
    }
    if (!p.active) {
      p.active = true;
      p.start = start;
      p.time = time;
    }
    p.end = end;
    if (cut) p.truncated = true;
    const room = this.maxRecord - p.size;
    if (msg.length <= room) {
      if (msg.length > 0) {
        p.parts.push(Buffer.from(msg));
        p.size += msg.length;
      }
    } else {
      const keep = utf8Cut(msg, Math.max(0, room));
      if (keep > 0) {
        p.parts.push(Buffer.from(msg.subarray(0, keep)));
        p.size += keep;
      }
      this.hooks.onSkippedBytes('record_too_large', msg.length - keep);
      p.truncated = true;
    }
    if (!isPartial) this.finishJoin(stream, end);
  }

  private finishJoin(stream: Stream, end: number): void {
    const p = this.partial[stream];
    const parts = p.parts;
    const size = p.size;
    const start = p.start;
    const time = p.time;
    const truncated = p.truncated;
    const parseError = p.parseError;
    p.reset();
    this.logical(stream, time, parts, size, truncated, parseError, start, end);
  }

  private logical(stream: Stream, time: bigint, parts: Uint8Array[], size: number, truncated: boolean, parseError: boolean, start: number, end: number): void {
    const ml = this.multiline;
    if (ml === undefined) {
      this.deliver(stream, time, parts, size, truncated, parseError, start, end);
      return;
    }
    const g = this.group[stream];
    const body = concat(parts, size);
    const first = ml.firstLine.test(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'));
    if (g.active && first) this.emitGroup(stream, start);
    if (!g.active) {
      g.active = true;
      g.start = start;
      g.time = time;
    } else {
      this.addToGroup(g, NEWLINE);
    }
    g.since = Date.now();
    g.end = end;
    if (truncated) g.truncated = true;
    if (parseError) g.parseError = true;
    this.addToGroup(g, body);
  }

  private addToGroup(g: Pending, b: Uint8Array): void {
    const room = this.maxRecord - g.size;
    const keep = b.length <= room ? b.length : utf8Cut(b, Math.max(0, room));
    if (keep > 0) {
      g.parts.push(Buffer.from(b.subarray(0, keep)));
      g.size += keep;
    }
    if (keep < b.length) {
      this.hooks.onSkippedBytes('record_too_large', b.length - keep);
      g.truncated = true;
    }
  }

  private emitGroup(stream: Stream, end: number): void {
    const g = this.group[stream];
    const parts = g.parts;
    const size = g.size;
    const time = g.time;
    const truncated = g.truncated;
    const parseError = g.parseError;
    g.reset();
    this.deliver(stream, time, parts, size, truncated, parseError, g.start, end);
  }

  private deliver(stream: Stream | undefined, time: bigint, parts: Uint8Array[], size: number, truncated: boolean, parseError: boolean, start: number, end: number): void {
    let body = concat(parts, size);
    if (body.length > this.maxRecord) {
      const keep = utf8Cut(body, this.maxRecord);
      this.hooks.onSkippedBytes('record_too_large', body.length - keep);
      body = body.subarray(0, keep);
      truncated = true;
    }
    let invalidUtf8 = false;
    if (!isUtf8(body)) {
      invalidUtf8 = true;
      this.hooks.onInvalidUtf8();
      body = Buffer.from(Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8'), 'utf8');
    }
    if (truncated) this.hooks.onTruncated();
    const pend = this.minPendingStart();
    const resumeOffset = pend === undefined || pend > end ? end : pend;
    // A record of a stream that starts before the resume offset and ends after it has been delivered; a restart
    // there must skip that stream's parts up to its next F. Records of one stream do not overlap, so the first
    // one still ending after the resume offset is the only candidate. (Not with multi-line groups, which span
    // several F lines: there a restart may resend a group's tail.)
    let resumeSkip = 0;
    if (this.multiline === undefined) {
      if (stream !== undefined) {
        const sp = this.spans[stream];
        sp.push(start, end);
        if (sp.length > 200_000) sp.splice(0, 2); // bounded; beyond it a restart may resend a tail (still no loss)
      }
      for (const s of ['stdout', 'stderr'] as const) {
        const sp = this.spans[s];
        let i = 0;
        while (i < sp.length && (sp[i + 1] ?? 0) <= resumeOffset) i += 2;
        if (i > 0) sp.splice(0, i);
      }
      resumeSkip = this.skipMaskAt(resumeOffset);
    }
    this.emit({
      timeUnixNano: time,
      observedTimeUnixNano: this.observed,
      body,
      stream,
      truncated,
      parseError,
      invalidUtf8,
      resumeOffset,
      resumeSkip,
      endOffset: end,
    });
  }
}

/** Decodes the `log` string of a docker json-file line that was cut at the size cap. */
function salvageDockerLog(text: string): string | undefined {
  const m = /^\{\s*"log"\s*:\s*"/.exec(text);
  if (m === null) return undefined;
  let s = text.slice(m[0].length);
  const close = findStringEnd(s);
  if (close >= 0) s = s.slice(0, close);
  // drop an escape cut in the middle
  const bs = s.lastIndexOf('\\');
  if (bs >= 0 && bs >= s.length - 6) {
    let run = 0;
    for (let i = bs; i >= 0 && s[i] === '\\'; i--) run++;
    if (run % 2 === 1) s = s.slice(0, bs);
  }
  try {
    return JSON.parse(`"${s}"`) as string;
  } catch {
    return undefined;
  }
}

function findStringEnd(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 92) i++;
    else if (c === 34) return i;
  }
  return -1;
}

export { FileParser, utf8Cut };
export type { ParsedRecord, ParserHooks, ParserOptions, MultilineOptions, Stream, LogFormat, Emit };
