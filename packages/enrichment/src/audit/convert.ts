// audit.k8s.io/v1 Event → one OTLP log record (issue 10 part 2). The body is the audit event's
// own JSON, so nothing the API server wrote is lost (request/response objects at the Request and
// RequestResponse levels included); the fields a security review filters on are also attributes,
// named k8s.audit.* after the audit.k8s.io/v1 field names (OTel semantic conventions define no
// audit attributes). k8s.audit.id is the API server's auditID: at-least-once delivery may repeat a
// record, and (k8s.audit.id, k8s.audit.stage) identifies it for deduplication.
import { SeverityNumber, anyValueToMessage, encodeLogsRequest, keyValueToMessage } from '@sextant/otlp';
import type { KeyValue } from '@sextant/otlp';
import { toUnixNano } from '../events/convert.ts';

interface AuditUser {
  username?: string;
  uid?: string;
  groups?: string[];
  extra?: Record<string, string[]>;
}

interface AuditEvent {
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
function severity(ev: AuditEvent): SeverityNumber {
  const code = ev.responseStatus?.code;
  if (typeof code === 'number' && code >= 500) return SeverityNumber.ERROR;
  if (typeof code === 'number' && code >= 400) return SeverityNumber.WARN;
  return SeverityNumber.INFO;
}

const SCOPE = { name: 'sextant.k8s.audit' };

/** One ExportLogsServiceRequest for the items of an EventList (already checked with checkEventList). */
function encodeAuditEvents(items: readonly AuditEvent[], resource: readonly KeyValue[], observedUnixNano: bigint): Uint8Array {
  return encodeLogsRequest({
    resourceLogs: [
      {
        resource: { attributes: resource.map(keyValueToMessage) },
        scopeLogs: [
          {
            scope: SCOPE,
            logRecords: items.map((ev) => ({
              timeUnixNano: toUnixNano(ev.stageTimestamp) ?? toUnixNano(ev.requestReceivedTimestamp) ?? observedUnixNano,
              observedTimeUnixNano: observedUnixNano,
              severityNumber: severity(ev),
              body: anyValueToMessage(JSON.stringify(ev)),
              attributes: auditAttributes(ev).map(keyValueToMessage),
            })),
          },
        ],
      },
    ],
  });
}

export { auditAttributes, checkEventList, encodeAuditEvents };
export type { AuditEvent };
