// The live summary: one snapshot per second, drawn as a compact table redrawn in place on a TTY,
// or as one plain line per second otherwise (CI logs, pipes).

export interface Snapshot {
  elapsedS: number;
  linesWritten: number;
  recordsWritten: number;
  rotations: number;
  collectorRecords: number;
  batchesAcked: number;
  batchesRetried: number;
  enrichedRecords: number;
  receivedRecords: number;
  metricPoints: number;
  queueDepth: number;
  misses: number;
  spansSent: number;
  spansReceived: number;
  backendLogs: number;
  backendMetrics: number;
  backendSpans: number;
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function rate(now: number, before: number | undefined): string {
  return before === undefined ? '' : `${fmt(Math.max(0, now - before))}/s`;
}

export function renderTable(s: Snapshot, prev: Snapshot | undefined, out: string): string {
  const rows: Array<[string, number, string, string]> = [
    ['log records written (CRI)', s.recordsWritten, rate(s.recordsWritten, prev?.recordsWritten), `${fmt(s.linesWritten)} lines (P+F), ${fmt(s.rotations)} rotations`],
    ['collector records read', s.collectorRecords, rate(s.collectorRecords, prev?.collectorRecords), `${fmt(s.batchesAcked)} batches acked, ${fmt(s.batchesRetried)} retried`],
    ['enrichment records enriched', s.enrichedRecords, rate(s.enrichedRecords, prev?.enrichedRecords), `of ${fmt(s.receivedRecords)}; queue depth ${fmt(s.queueDepth)}, misses ${fmt(s.misses)}`],
    ['host metric points (collector)', s.metricPoints, rate(s.metricPoints, prev?.metricPoints), ''],
    ['spans sent by the app', s.spansSent, rate(s.spansSent, prev?.spansSent), `${fmt(s.spansReceived)} received by trace-receiver`],
    ['backend (OTLP/JSON files)', s.backendLogs, '', `logs; ${fmt(s.backendMetrics)} metric points, ${fmt(s.backendSpans)} spans`],
  ];
  const lines = [`sextant demo · ${s.elapsedS}s · output ${out} · Ctrl-C stops`];
  for (const [label, n, r, note] of rows) lines.push(`  ${label.padEnd(28)} ${fmt(n).padStart(9)} ${r.padStart(8)}  ${note}`);
  return `${lines.join('\n')}\n`;
}

export function renderLine(s: Snapshot): string {
  return (
    `[${s.elapsedS}s] records written ${s.recordsWritten}, read ${s.collectorRecords}, batches acked ${s.batchesAcked}, ` +
    `enriched ${s.enrichedRecords}, queue depth ${s.queueDepth}, misses ${s.misses}, metric points ${s.metricPoints}, ` +
    `spans sent ${s.spansSent}, received ${s.spansReceived}; backend logs ${s.backendLogs}, spans ${s.backendSpans}\n`
  );
}

/** Redraws the table in place: cursor up over the previous drawing, clear to the end of the screen. */
export function createTtyPainter(write: (text: string) => void): { paint(text: string): void } {
  let height = 0;
  return {
    paint(text) {
      write(`${height > 0 ? `\x1b[${height}A` : ''}\x1b[J${text}`);
      height = text.split('\n').length - 1;
    },
  };
}
