// Self-metrics on a registry per collector instance. Every place that can lose or change data has a counter
// (ARCHITECTURE.md "Delivery contract" point 5).
import { Counter, Gauge, Registry } from 'prom-client';

const P = 'sextant_node_collector_';

interface CollectorMetrics {
  registry: Registry;
  readBytes: Counter;
  records: Counter;
  truncatedFiles: Counter;
  truncatedRecords: Counter;
  skippedBytes: Counter<'reason'>;
  parseErrors: Counter<'format'>;
  invalidUtf8: Counter;
  dropped: Counter<'reason'>;
  inflightBytes: Gauge;
  inflightBytesMax: Gauge;
  readPaused: Counter;
  openFiles: Gauge;
  trackedFiles: Gauge;
  filesDiscovered: Counter;
  batchesSent: Counter<'result'>;
  exportRetries: Counter<'reason'>;
  checkpointWrites: Counter;
  checkpointErrors: Counter;
}

function createCollectorMetrics(): CollectorMetrics {
  const registry = new Registry();
  const r = [registry];
  return {
    registry,
    readBytes: new Counter({ name: `${P}read_bytes_total`, help: 'Bytes read from log files', registers: r }),
    records: new Counter({ name: `${P}records_total`, help: 'Log records produced', registers: r }),
    truncatedFiles: new Counter({ name: `${P}truncated_files_total`, help: 'Files found shorter than the read offset (copytruncate); reading restarted at 0', registers: r }),
    truncatedRecords: new Counter({ name: `${P}truncated_total`, help: 'Records cut at max_record_bytes (flagged log.record.truncated)', registers: r }),
    skippedBytes: new Counter({ name: `${P}skipped_bytes_total`, help: 'Bytes of log files not delivered, by reason', labelNames: ['reason'], registers: r }),
    parseErrors: new Counter({ name: `${P}parse_errors_total`, help: 'Lines delivered as they are with log.parse.error=true', labelNames: ['format'], registers: r }),
    invalidUtf8: new Counter({ name: `${P}invalid_utf8_total`, help: 'Records whose invalid UTF-8 bytes were replaced by U+FFFD', registers: r }),
    dropped: new Counter({ name: `${P}dropped_total`, help: 'Records not delivered, by reason', labelNames: ['reason'], registers: r }),
    inflightBytes: new Gauge({ name: `${P}inflight_bytes`, help: 'Record bytes read but not yet acknowledged by enrichment', registers: r }),
    inflightBytesMax: new Gauge({ name: `${P}inflight_bytes_max`, help: 'Highest inflight_bytes seen since start', registers: r }),
    readPaused: new Counter({ name: `${P}read_paused_total`, help: 'Times reading paused because inflight_bytes reached max_inflight_bytes', registers: r }),
    openFiles: new Gauge({ name: `${P}open_files`, help: 'Log files held open', registers: r }),
    trackedFiles: new Gauge({ name: `${P}tracked_files`, help: 'Log files known (open or closed at EOF)', registers: r }),
    filesDiscovered: new Counter({ name: `${P}files_discovered_total`, help: 'Log files discovered', registers: r }),
    batchesSent: new Counter({ name: `${P}batches_total`, help: 'Export attempts by result', labelNames: ['result'], registers: r }),
    exportRetries: new Counter({ name: `${P}export_retries_total`, help: 'Export retries by reason', labelNames: ['reason'], registers: r }),
    checkpointWrites: new Counter({ name: `${P}checkpoint_writes_total`, help: 'Checkpoint files written', registers: r }),
    checkpointErrors: new Counter({ name: `${P}checkpoint_errors_total`, help: 'Checkpoint writes that failed', registers: r }),
  };
}

export { createCollectorMetrics };
export type { CollectorMetrics };
