// Lines of an API-server audit log file (--audit-log-path, --audit-log-format=json): one audit.k8s.io/v1
// Event per line. Each line becomes one record mapped exactly as the enrichment service's audit webhook
// maps it (@sextant/otlp auditLogRecord). A line that is not JSON or not an audit Event is counted and
// reported through the hooks, never shipped. It has the shape of the collector's FileParser (push, flush,
// minPendingStart, ...), so the pod-log tailer's reading, rotation and checkpoints carry it unchanged.
import type { AuditEvent, AuditLogRecord, LogRecordInput } from '@sextant/otlp';
import type { Emit, ParsedRecord } from '../parser.ts';
import type { RecordInput } from '../encoder.ts';

type BadLineReason = 'json' | 'not_audit_event' | 'too_large';

interface AuditParserHooks {
  onLine(): void;
  onBadLine(reason: BadLineReason, detail: string, offset: number, bytes: number): void;
}

/** A ParsedRecord that also carries the OTLP record of its audit event. */
interface AuditRecord extends ParsedRecord {
  audit: LogRecordInput;
}

type Mapping = { check: (v: unknown) => string | undefined; toRecord: (ev: AuditEvent, observed: bigint) => AuditLogRecord };
let mapping: Mapping | undefined;

/** Loads the shared mapping from @sextant/otlp (imported late, like the encoder: see ../encoder.ts). */
async function loadAuditMapping(): Promise<void> {
  if (mapping !== undefined) return;
  const m = await import('@sextant/otlp');
  mapping = { check: m.checkAuditEvent, toRecord: m.auditLogRecord };
}

function isAuditRecord(r: RecordInput): r is AuditRecord {
  return (r as Partial<AuditRecord>).audit !== undefined;
}

const NL = 0x0a;
const ENC = new TextEncoder();

class AuditLineParser {
  private readonly maxLine: number;
  private readonly hooks: AuditParserHooks;
  private chunks: Buffer[] = [];
  private carryLen = 0;
  /** File offset where the unfinished line starts; -1 when none. */
  private carryStart = -1;
  /** The unfinished line is over maxLine: its bytes are dropped up to its end. */
  private overflow = false;

  constructor(maxLineBytes: number, hooks: AuditParserHooks) {
    this.maxLine = maxLineBytes;
    this.hooks = hooks;
  }

  // no P/F joins in audit files: nothing to skip after a restart
  setResumeSkip(_mask: number): void {}
  skipMaskAt(_offset: number): number {
    return 0;
  }
  flushIdleGroups(_emit: Emit, _nowMs: number, _observedNs: bigint): void {}

  minPendingStart(): number | undefined {
    return this.carryStart >= 0 ? this.carryStart : undefined;
  }

  pendingBytes(): number {
    return this.carryLen;
  }

  push(buf: Buffer, n: number, base: number, observedNs: bigint, emit: Emit): void {
    let pos = 0;
    while (pos < n) {
      let nl = buf.indexOf(NL, pos);
      if (nl >= n) nl = -1;
      if (nl === -1) {
        this.append(buf, pos, n, base);
        break;
      }
      if (this.carryStart >= 0) {
        this.append(buf, pos, nl, base);
        const start = this.carryStart;
        const line = this.chunks.length === 1 ? (this.chunks[0] ?? Buffer.alloc(0)) : Buffer.concat(this.chunks, this.carryLen);
        const over = this.overflow;
        this.clearCarry();
        this.line(line, start, base + nl + 1, over, observedNs, emit);
      } else {
        this.line(buf.subarray(pos, nl), base + pos, base + nl + 1, false, observedNs, emit);
      }
      pos = nl + 1;
    }
  }

  /** At the close of a rotated or deleted file: a last line without "\n" is taken as it is. */
  flush(emit: Emit, observedNs: bigint): void {
    if (this.carryStart < 0) return;
    const start = this.carryStart;
    const line = Buffer.concat(this.chunks, this.carryLen);
    const over = this.overflow;
    const end = start + (over ? this.maxLine + 1 : this.carryLen);
    this.clearCarry();
    this.line(line, start, end, over, observedNs, emit);
  }

  reset(): void {
    this.clearCarry();
  }

  private clearCarry(): void {
    this.chunks = [];
    this.carryLen = 0;
    this.carryStart = -1;
    this.overflow = false;
  }

  private append(buf: Buffer, from: number, to: number, base: number): void {
    if (this.carryStart < 0) this.carryStart = base + from;
    if (this.overflow || to === from) return;
    if (this.carryLen + (to - from) > this.maxLine) {
      this.overflow = true;
      this.chunks = [];
      return;
    }
    // a copy: the read buffer is reused for the next read
    this.chunks.push(Buffer.from(buf.subarray(from, to)));
    this.carryLen += to - from;
  }

  private line(b: Uint8Array, start: number, end: number, overflow: boolean, observedNs: bigint, emit: Emit): void {
    let len = b.length;
    if (len > 0 && b[len - 1] === 0x0d) len--; // CRLF
    if (len === 0 && !overflow) return;
    this.hooks.onLine();
    if (overflow || len > this.maxLine) {
      this.hooks.onBadLine('too_large', `a line of more than ${this.maxLine} bytes`, start, end - start);
      return;
    }
    const m = mapping;
    if (m === undefined) throw new Error('loadAuditMapping() must complete before parsing');
    let ev: unknown;
    try {
      ev = JSON.parse(Buffer.from(b.buffer, b.byteOffset, len).toString('utf8'));
    } catch (e) {
      this.hooks.onBadLine('json', e instanceof Error ? e.message : String(e), start, end - start);
      return;
    }
    const why = m.check(ev);
    if (why !== undefined) {
      this.hooks.onBadLine('not_audit_event', why, start, end - start);
      return;
    }
    const r = m.toRecord(ev as AuditEvent, observedNs);
    const body = ENC.encode(r.body);
    const rec: AuditRecord = {
      timeUnixNano: r.timeUnixNano,
      observedTimeUnixNano: r.observedTimeUnixNano,
      body,
      stream: undefined,
      truncated: false,
      parseError: false,
      invalidUtf8: false,
      resumeOffset: end,
      resumeSkip: 0,
      endOffset: end,
      audit: { timeUnixNano: r.timeUnixNano, observedTimeUnixNano: r.observedTimeUnixNano, severityNumber: r.severityNumber, body, attributes: r.attributes },
    };
    emit(rec);
  }
}

export { AuditLineParser, isAuditRecord, loadAuditMapping };
export type { AuditParserHooks, AuditRecord, BadLineReason };
