// audit.k8s.io/v1 Event → one OTLP log record (issue 10 part 2), shared by the enrichment service's
// audit webhook and the node-collector's audit log file source, so that a security team sees the
// same record whichever path the API server uses. The body is the audit event's own JSON, so nothing
// the API server wrote is lost (request/response objects at the Request and RequestResponse levels
// included); the fields a security review filters on are also attributes, named k8s.audit.* after
// the audit.k8s.io/v1 field names (OTel semantic conventions define no audit attributes).
// k8s.audit.id is the API server's auditID: at-least-once delivery may repeat a record, and
// (k8s.audit.id, k8s.audit.stage) identifies it for deduplication.
//
// The log backend writes each event with its TypeMeta (`"kind":"Event","apiVersion":"audit.k8s.io/v1"`)
// while the webhook backend's EventList items carry none; the body leaves those two keys out so both
// paths give the same bytes.
import type { KeyValue } from './kv.ts';
import { SeverityNumber } from './gen/opentelemetry/proto/logs/v1/logs_pb.ts';

interface AuditUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

interface AuditEvent {
  kind?: string;
  apiVersion?: string;
  level?: string;
  auditID?: string;
  stage?: string;
  requestURI?: string;
  verb?: string;
  user?: AuditUser;
  impersonatedUser?: AuditUser | null;
  sourceIPs?: string[];
  userAgent?: string;
  objectRef?: { resource?: string; namespace?: string; name?: string; uid?: string; apiGroup?: string; apiVersion?: string; resourceVersion?: string; subresource?: string } | null;
  responseStatus?: { code?: number; status?: string; reason?: string; message?: string } | null;
  requestReceivedTimestamp?: string;
  stageTimestamp?: string;
  annotations?: Record<string, string> | null;
}

/** One audit event as a log record: the plain fields both the generated codec and the direct encoder take. */
interface AuditLogRecord {
  timeUnixNano: bigint;
  observedTimeUnixNano: bigint;
  severityNumber: SeverityNumber;
  /** The event's JSON without its TypeMeta. */
  body: string;
  attributes: KeyValue[];
}

/** Instrumentation scope name of audit records. */
const AUDIT_SCOPE_NAME = 'sextant.k8s.audit';

/** Why a value is not one audit.k8s.io/v1 Event (a line of --audit-log-path, or an EventList item); undefined when it is. */
function checkAuditEvent(v: unknown): string | undefined {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'not a JSON object';
  const e = v as { kind?: unknown; apiVersion?: unknown; auditID?: unknown; stage?: unknown };
  if (e.kind !== undefined && e.kind !== 'Event') return `kind ${JSON.stringify(e.kind)} is not "Event"`;
  if (e.apiVersion !== undefined && e.apiVersion !== 'audit.k8s.io/v1') return `apiVersion ${JSON.stringify(e.apiVersion)} is not "audit.k8s.io/v1" (set --audit-log-version=audit.k8s.io/v1)`;
  if (typeof e.auditID !== 'string' || e.auditID === '') return 'no auditID';
  if (typeof e.stage !== 'string' || e.stage === '') return 'no stage';
  return undefined;
}

/** Why a body is not an audit.k8s.io/v1 EventList; undefined when it is. */
function checkEventList(body: unknown): string | undefined {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return 'the body is not a JSON object';
  const b = body as { kind?: unknown; apiVersion?: unknown; items?: unknown };
  if (b.kind !== 'EventList') return `kind ${JSON.stringify(b.kind)} is not "EventList"`;
  if (b.apiVersion !== 'audit.k8s.io/v1') return `apiVersion ${JSON.stringify(b.apiVersion)} is not "audit.k8s.io/v1" (set --audit-webhook-version=audit.k8s.io/v1)`;
  if (b.items !== undefined && b.items !== null && !Array.isArray(b.items)) return 'items is not a list';
  const items = (b.items ?? []) as unknown[];
  for (let i = 0; i < items.length; i++) {
    const it = items[i] as { auditID?: unknown } | null;
    if (typeof it !== 'object' || it === null || typeof it.auditID !== 'string') return `items[${i}] has no auditID`;
  }
  return undefined;
}

/** RFC 3339 (with up to 9 fraction digits) → Unix nanoseconds; undefined when it does not parse. */
function rfc3339ToUnixNano(s: string | null | undefined): bigint | undefined {
  if (typeof s !== 'string' || s.length === 0) return undefined;
  const m = /^(.*?:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$/.exec(s);
  if (m === null) return undefined;
  const ms = Date.parse(`${m[1] ?? ''}${m[3] ?? ''}`);
  if (Number.isNaN(ms)) return undefined;
  const frac = BigInt((m[2] ?? '').padEnd(9, '0'));
  return BigInt(ms) * 1_000_000n + frac;
}

function userAttributes(prefix: string, u: AuditUser | null | undefined, out: KeyValue[]): void {
  if (u == null) return;
  if (typeof u.username === 'string') out.push({ key: `${prefix}.username`, value: u.username });
  if (typeof u.uid === 'string' && u.uid !== '') out.push({ key: `${prefix}.uid`, value: u.uid });
  if (Array.isArray(u.groups)) out.push({ key: `${prefix}.groups`, value: u.groups.filter((g) => typeof g === 'string') });
  if (u.extra != null && typeof u.extra === 'object') {
    const kv: KeyValue[] = Object.entries(u.extra).map(([k, v]) => ({ key: k, value: Array.isArray(v) ? v.map(String) : String(v) }));
    if (kv.length > 0) out.push({ key: `${prefix}.extra`, value: { kvlist: kv } });
  }
}

/** The k8s.audit.* record attributes of an event. */
function auditAttributes(ev: AuditEvent): KeyValue[] {
  const out: KeyValue[] = [];
  const str = (key: string, v: unknown): void => {
    if (typeof v === 'string' && v !== '') out.push({ key, value: v });
  };
  str('k8s.audit.id', ev.auditID);
  str('k8s.audit.stage', ev.stage);
  str('k8s.audit.level', ev.level);
  str('k8s.audit.verb', ev.verb);
  str('k8s.audit.request_uri', ev.requestURI);
  userAttributes('k8s.audit.user', ev.user, out);
  userAttributes('k8s.audit.impersonated_user', ev.impersonatedUser, out);
  if (Array.isArray(ev.sourceIPs)) out.push({ key: 'k8s.audit.source_ips', value: ev.sourceIPs.filter((s) => typeof s === 'string') });
  str('k8s.audit.user_agent', ev.userAgent);
  const o = ev.objectRef;
  if (o != null) {
    str('k8s.audit.object_ref.resource', o.resource);
    str('k8s.audit.object_ref.subresource', o.subresource);
    str('k8s.audit.object_ref.namespace', o.namespace);
    str('k8s.audit.object_ref.name', o.name);
    str('k8s.audit.object_ref.uid', o.uid);
    str('k8s.audit.object_ref.api_group', o.apiGroup);
    str('k8s.audit.object_ref.api_version', o.apiVersion);
    str('k8s.audit.object_ref.resource_version', o.resourceVersion);
  }
  const r = ev.responseStatus;
  if (r != null) {
    if (typeof r.code === 'number') out.push({ key: 'k8s.audit.response_status.code', value: BigInt(Math.trunc(r.code)) });
    str('k8s.audit.response_status.status', r.status);
    str('k8s.audit.response_status.reason', r.reason);
    str('k8s.audit.response_status.message', r.message);
  }
  str('k8s.audit.request_received_timestamp', ev.requestReceivedTimestamp);
  str('k8s.audit.stage_timestamp', ev.stageTimestamp);
  if (ev.annotations != null && typeof ev.annotations === 'object') {
    const kv: KeyValue[] = Object.entries(ev.annotations).map(([k, v]): KeyValue => ({ key: k, value: String(v) }));
    if (kv.length > 0) out.push({ key: 'k8s.audit.annotations', value: { kvlist: kv } });
  }
  return out;
}

/** Severity from the response: 5xx ERROR, 4xx WARN, else INFO. */
function auditSeverity(ev: AuditEvent): SeverityNumber {
  const code = ev.responseStatus?.code;
  if (typeof code === 'number' && code >= 500) return SeverityNumber.ERROR;
  if (typeof code === 'number' && code >= 400) return SeverityNumber.WARN;
  return SeverityNumber.INFO;
}

/** The event's JSON without kind/apiVersion (key order as the API server wrote it). */
function auditBody(ev: AuditEvent): string {
  if (ev.kind === undefined && ev.apiVersion === undefined) return JSON.stringify(ev);
  const { kind: _kind, apiVersion: _apiVersion, ...rest } = ev;
  return JSON.stringify(rest);
}

/** The log record of one audit event (checked with checkAuditEvent or checkEventList). */
function auditLogRecord(ev: AuditEvent, observedUnixNano: bigint): AuditLogRecord {
  return {
    timeUnixNano: rfc3339ToUnixNano(ev.stageTimestamp) ?? rfc3339ToUnixNano(ev.requestReceivedTimestamp) ?? observedUnixNano,
    observedTimeUnixNano: observedUnixNano,
    severityNumber: auditSeverity(ev),
    body: auditBody(ev),
    attributes: auditAttributes(ev),
  };
}

export { AUDIT_SCOPE_NAME, auditAttributes, auditBody, auditLogRecord, auditSeverity, checkAuditEvent, checkEventList, rfc3339ToUnixNano };
export type { AuditEvent, AuditLogRecord, AuditUser };
