// The journald source's counters on the collector's registry, read from the source's stats at scrape time.
// Prefix sextant_node_collector_journald_; every place that loses an entry or a field has a counter with a reason
// (ARCHITECTURE.md "Delivery contract" 5).
import { Counter } from 'prom-client';
import type { Registry } from 'prom-client';
import type { JournaldSourceStats } from './source.ts';

const P = 'sextant_node_collector_journald_';

function registerJournaldMetrics(registry: Registry, stats: () => JournaldSourceStats): void {
  const r = [registry];
  const plain = (name: string, help: string, pick: (s: JournaldSourceStats) => number): void => {
    new Counter({
      name: `${P}${name}`,
      help,
      registers: r,
      collect() {
        this.reset();
        this.inc(pick(stats()));
      },
    });
  };
  const labelled = (name: string, help: string, label: string, pick: (s: JournaldSourceStats) => Partial<Record<string, number>>): void => {
    new Counter({
      name: `${P}${name}`,
      help,
      labelNames: [label],
      registers: r,
      collect() {
        this.reset();
        for (const [k, v] of Object.entries(pick(stats()))) if (v !== undefined) this.inc({ [label]: k }, v);
      },
    });
  };
  plain('entries_total', 'Journal entries read', (s) => s.entries);
  plain('records_total', 'Journal entries put into OTLP batches', (s) => s.records);
  plain('filtered_total', 'Journal entries left out by the unit filter', (s) => s.filtered);
  plain('files_opened_total', 'Journal files opened', (s) => s.filesOpened);
  labelled('skipped_entries_total', 'Journal entries that could not be read and were skipped, by error code', 'code', (s) => s.skippedEntries);
  labelled('skipped_fields_total', 'Fields left out of journal entries (xz/lz4 compression, corrupt or too large), by reason', 'reason', (s) => s.skippedFields);
  labelled('file_errors_total', 'Journal files that could not be read (further), by error code', 'code', (s) => s.fileErrors);
  labelled('batches_total', 'journald batches by outcome (acked, rejected: permanently refused and counted as done)', 'result', (s) => ({ acked: s.batchesAcked, rejected: s.batchesRejected }));
  plain('checkpoint_writes_total', 'journald.json writes', (s) => s.checkpointWrites);
  plain('checkpoint_errors_total', 'journald.json writes that failed', (s) => s.checkpointErrors);
  plain('read_errors_total', 'Read rounds that failed unexpectedly and were retried', (s) => s.readErrors);
}

export { registerJournaldMetrics };
