// The audit log source's counters on the collector's registry (prefix sextant_node_collector_auditlog_).
// A line that is not delivered is counted with its reason (ARCHITECTURE.md "Delivery contract" 5).
import { Counter, Gauge } from 'prom-client';
import type { Registry } from 'prom-client';

const P = 'sextant_node_collector_auditlog_';

interface AuditLogMetrics {
  lines: Counter;
  badLines: Counter<'reason'>;
  records: Counter<'result'>;
  files: Counter;
  openFiles: Gauge;
}

function registerAuditLogMetrics(registry: Registry): AuditLogMetrics {
  const r = [registry];
  return {
    lines: new Counter({ name: `${P}lines_total`, help: 'Audit log lines read (empty lines not counted)', registers: r }),
    badLines: new Counter({ name: `${P}bad_lines_total`, help: 'Audit log lines not shipped because they are not an audit.k8s.io/v1 Event, by reason (json, not_audit_event, too_large)', labelNames: ['reason'], registers: r }),
    records: new Counter({ name: `${P}records_total`, help: 'Audit records acknowledged by enrichment (ok) or refused permanently and counted (rejected)', labelNames: ['result'], registers: r }),
    files: new Counter({ name: `${P}files_total`, help: 'Audit log files discovered (the live file and its rotations)', registers: r }),
    openFiles: new Gauge({ name: `${P}open_files`, help: 'Audit log files held open', registers: r }),
  };
}

export { registerAuditLogMetrics };
export type { AuditLogMetrics };
