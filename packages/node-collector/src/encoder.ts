// One batch = one OTLP ExportLogsServiceRequest holding the records of one container file under that file's
// resource (ARCHITECTURE.md "Delivery contract" 1). Records are encoded as they arrive with @sextant/otlp's direct
// encoder, which copies the body once from the read buffer, so a batch holds no per-record JS objects.
import type { KeyValue, LogsEncoder, LogsEncoderOptions } from '@sextant/otlp';
import type { Stream } from './parser.ts';

// @sextant/otlp is loaded after the collector has opened its files: importing it costs about 0.5 s (measured),
// and while a restarting collector holds no descriptors, kubelet may delete rotated files unread.
let createLogsEncoder: ((options?: LogsEncoderOptions) => LogsEncoder) | undefined;

async function loadEncoder(): Promise<void> {
  if (createLogsEncoder === undefined) ({ createLogsEncoder } = await import('@sextant/otlp'));
}

type AttrValue = string | number | boolean;

interface RecordInput {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  /** Valid UTF-8, written as the body's string_value. */
  body: Uint8Array;
  stream: Stream | undefined;
  truncated: boolean;
  parseError: boolean;
  invalidUtf8: boolean;
}

interface BatchEncoder {
  add(r: RecordInput): void;
  readonly records: number;
  readonly bytes: number;
  finish(): Uint8Array;
}

interface ResourceHeader {
  attrs: KeyValue[];
  scopeName: string;
  scopeVersion: string;
}

function encodeResourceHeader(resource: Record<string, AttrValue>, scopeName: string, scopeVersion: string): ResourceHeader {
  // KeyValue is a plain object; an int attribute is a bigint (a number would be a double)
  const attrs: KeyValue[] = Object.entries(resource).map(([key, v]) => ({ key, value: typeof v === 'number' ? BigInt(v) : v }));
  return { attrs, scopeName, scopeVersion };
}

// The record attribute lists are few; build each combination once.
const ATTR_CACHE = new Map<number, KeyValue[]>();
function recordAttrs(r: RecordInput): KeyValue[] {
  const code = (r.stream === 'stdout' ? 1 : r.stream === 'stderr' ? 2 : 0) | (r.truncated ? 4 : 0) | (r.parseError ? 8 : 0) | (r.invalidUtf8 ? 16 : 0);
  let a = ATTR_CACHE.get(code);
  if (a === undefined) {
    a = [];
    if (r.stream !== undefined) a.push({ key: 'log.iostream', value: r.stream });
    if (r.truncated) a.push({ key: 'log.record.truncated', value: true });
    if (r.parseError) a.push({ key: 'log.parse.error', value: true });
    if (r.invalidUtf8) a.push({ key: 'log.record.invalid_utf8', value: true });
    ATTR_CACHE.set(code, a);
  }
  return a;
}

class OtlpBatchEncoder implements BatchEncoder {
  private readonly enc: LogsEncoder;
  constructor(header: ResourceHeader, initialBytes: number) {
    if (createLogsEncoder === undefined) throw new Error('loadEncoder() must complete before encoding');
    this.enc = createLogsEncoder({ initialSize: initialBytes });
    this.enc.beginResource(header.attrs);
    this.enc.beginScope(header.scopeName, header.scopeVersion);
  }
  get records(): number {
    return this.enc.recordCount;
  }
  get bytes(): number {
    return this.enc.byteLength;
  }
  add(r: RecordInput): void {
    this.enc.addRecord({
      timeUnixNano: r.timeUnixNano,
      observedTimeUnixNano: r.observedTimeUnixNano,
      body: r.body,
      attributes: recordAttrs(r),
    });
  }
  finish(): Uint8Array {
    return this.enc.finish();
  }
}

function createBatchEncoder(header: ResourceHeader, initialBytes = 16 * 1024): BatchEncoder {
  return new OtlpBatchEncoder(header, initialBytes);
}

export { createBatchEncoder, encodeResourceHeader, loadEncoder };
export type { BatchEncoder, RecordInput, AttrValue, ResourceHeader };
