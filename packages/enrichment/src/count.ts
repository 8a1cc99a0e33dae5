// Counts log records / metric data points in a protobuf Export*ServiceRequest by walking
// tags and lengths only: each record is skipped by its length, never decoded. Assumes the
// bytes already passed the splice's resource-level parse (malformed tails count as zero).
// Field numbers: opentelemetry/proto/{logs,metrics}/v1 and collector/*/v1.

interface Cursor {
  buf: Uint8Array;
  pos: number;
}

function varint(c: Cursor, end: number): number {
  let value = 0;
  let mul = 1;
  while (c.pos < end) {
    const b = c.buf[c.pos++] as number;
    value += (b & 0x7f) * mul;
    if (b < 0x80) return value;
    mul *= 128;
    if (mul > 2 ** 63) break;
  }
  return -1;
}

/** Calls fn(fieldNo, start, end) for each length-delimited field in [pos, end); skips others. */
function eachLenField(buf: Uint8Array, pos: number, end: number, fn: (field: number, start: number, end: number) => void): void {
  const c: Cursor = { buf, pos };
  while (c.pos < end) {
    const tag = varint(c, end);
    if (tag < 0) return;
    const wire = tag & 7;
    const field = Math.floor(tag / 8);
    if (wire === 2) {
      const len = varint(c, end);
      if (len < 0 || c.pos + len > end) return;
      fn(field, c.pos, c.pos + len);
      c.pos += len;
    } else if (wire === 0) {
      if (varint(c, end) < 0) return;
    } else if (wire === 1) c.pos += 8;
    else if (wire === 5) c.pos += 4;
    else return; // groups do not occur in OTLP
  }
}

// Metric.data oneof: gauge=5, sum=7, histogram=9, exponential_histogram=10, summary=11;
// each holds repeated data_points=1.
const METRIC_DATA_FIELDS = new Set([5, 7, 9, 10, 11]);

/**
 * Records under the resources at `resourceIndexes` (all resources when omitted):
 * log records for logs, data points for metrics.
 */
function countRecords(signal: 'logs' | 'metrics', bytes: Uint8Array, resourceIndexes?: readonly number[]): number {
  const wanted = resourceIndexes === undefined ? undefined : new Set(resourceIndexes);
  let count = 0;
  let index = 0;
  eachLenField(bytes, 0, bytes.length, (field, rs, re) => {
    if (field !== 1) return;
    const take = wanted === undefined || wanted.has(index);
    index++;
    if (!take) return;
    eachLenField(bytes, rs, re, (f, ss, se) => {
      if (f !== 2) return; // scope_logs / scope_metrics
      eachLenField(bytes, ss, se, (g, ms, me) => {
        if (g !== 2) return; // log_records / metrics
        if (signal === 'logs') {
          count++;
          return;
        }
        eachLenField(bytes, ms, me, (h, ds, de) => {
          if (!METRIC_DATA_FIELDS.has(h)) return;
          eachLenField(bytes, ds, de, (k) => {
            if (k === 1) count++;
          });
        });
      });
    });
  });
  return count;
}

export { countRecords };
