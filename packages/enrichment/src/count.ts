// Counts log records / metric data points in a protobuf Export*ServiceRequest by walking tags and
// lengths only: each record is skipped by its length, never decoded. Each ResourceX is counted by
// @sextant/otlp countResourceRecords, which checks the structure it walks through and throws its
// decode error on a malformed one (the ingest answers 400). Field numbers:
// opentelemetry/proto/{logs,metrics}/v1 and collector/*/v1.
import { countResourceRecords, readVarintAt } from '@sextant/otlp';

/**
 * Records under the resources at `resourceIndexes` (all resources when omitted): log records for
 * logs, data points for metrics. The request's top level is taken as already checked (the
 * splice's readResources); a malformed ResourceX throws.
 */
function countRecords(signal: 'logs' | 'metrics', bytes: Uint8Array, resourceIndexes?: readonly number[]): number {
  const wanted = resourceIndexes === undefined ? undefined : new Set(resourceIndexes);
  let count = 0;
  let index = 0;
  let pos = 0;
  while (pos < bytes.length) {
    const tag = readVarintAt(bytes, pos, bytes.length);
    if (tag === undefined) return count;
    const wire = tag[0] & 7;
    pos = tag[1];
    if (wire !== 2) return count; // not an OTLP request's top level: resource_logs / resource_metrics are its only fields
    const len = readVarintAt(bytes, pos, bytes.length);
    if (len === undefined || len[1] + len[0] > bytes.length) return count;
    const start = len[1];
    pos = start + len[0];
    if (Math.floor(tag[0] / 8) !== 1) continue;
    if (wanted === undefined || wanted.has(index)) count += countResourceRecords(bytes.subarray(start, pos), signal);
    index++;
  }
  return count;
}

export { countRecords };
