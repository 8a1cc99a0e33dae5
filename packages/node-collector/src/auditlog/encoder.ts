// One batch = the audit records of one audit log file under that file's resource, in the scope the
// enrichment service's audit webhook uses (@sextant/otlp AUDIT_SCOPE_NAME), so both paths look alike.
// The header's scope is ignored: the collector builds headers before @sextant/otlp is loaded.
import type { LogsEncoder, LogsEncoderOptions } from '@sextant/otlp';
import type { BatchEncoder, RecordInput, ResourceHeader } from '../encoder.ts';
import { isAuditRecord } from './parser.ts';

let createLogsEncoder: ((options?: LogsEncoderOptions) => LogsEncoder) | undefined;
let scopeName = '';

/** Loaded after the files are open, like ../encoder.ts. */
async function loadAuditEncoder(): Promise<void> {
  if (createLogsEncoder === undefined) ({ createLogsEncoder, AUDIT_SCOPE_NAME: scopeName } = await import('@sextant/otlp'));
}

class AuditBatchEncoder implements BatchEncoder {
  private readonly enc: LogsEncoder;
  constructor(header: ResourceHeader, initialBytes: number) {
    if (createLogsEncoder === undefined) throw new Error('loadAuditEncoder() must complete before encoding');
    this.enc = createLogsEncoder({ initialSize: initialBytes });
    this.enc.beginResource(header.attrs);
    // the webhook's scope (name only), whatever the header says
    this.enc.beginScope(scopeName);
  }
  get records(): number {
    return this.enc.recordCount;
  }
  get bytes(): number {
    return this.enc.byteLength;
  }
  add(r: RecordInput): void {
    // only the audit parser feeds this encoder; anything else would be a wiring bug
    if (!isAuditRecord(r)) throw new Error('an audit batch got a record that is not an audit event');
    this.enc.addRecord(r.audit);
  }
  finish(): Uint8Array {
    return this.enc.finish();
  }
}

function createAuditBatchEncoder(header: ResourceHeader, initialBytes = 16 * 1024): BatchEncoder {
  return new AuditBatchEncoder(header, initialBytes);
}

export { createAuditBatchEncoder, loadAuditEncoder };
