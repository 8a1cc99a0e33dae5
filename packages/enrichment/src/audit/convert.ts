// audit.k8s.io/v1 EventList items → one OTLP ExportLogsServiceRequest (issue 10 part 2). The mapping
// of one event (body, k8s.audit.* attributes, severity, time) lives in @sextant/otlp, shared with the
// node-collector's audit log file source, so both paths give the same records.
import { AUDIT_SCOPE_NAME, anyValueToMessage, auditLogRecord, encodeLogsRequest, keyValueToMessage } from '@sextant/otlp';
import type { AuditEvent, KeyValue } from '@sextant/otlp';

export { auditAttributes, checkEventList } from '@sextant/otlp';
export type { AuditEvent } from '@sextant/otlp';

/** One ExportLogsServiceRequest for the items of an EventList (already checked with checkEventList). */
function encodeAuditEvents(items: readonly AuditEvent[], resource: readonly KeyValue[], observedUnixNano: bigint): Uint8Array {
  return encodeLogsRequest({
    resourceLogs: [
      {
        resource: { attributes: resource.map(keyValueToMessage) },
        scopeLogs: [
          {
            scope: { name: AUDIT_SCOPE_NAME },
            logRecords: items.map((ev) => {
              const r = auditLogRecord(ev, observedUnixNano);
              return { ...r, body: anyValueToMessage(r.body), attributes: r.attributes.map(keyValueToMessage) };
            }),
          },
        ],
      },
    ],
  });
}

export { encodeAuditEvents };
