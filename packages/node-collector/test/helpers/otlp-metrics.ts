// Flattens a decoded OTLP metrics request for assertions: per resource, per metric name, its unit, instrument
// kind and points (attributes as a plain record; as_int as bigint, as_double as number).
import { decodeMetricsRequest, keyValueFromMessage } from '@sextant/otlp';
import type { KeyValueMessage, NumberDataPoint } from '@sextant/otlp';

interface FlatPoint {
  attrs: Record<string, string>;
  value: number | bigint;
  startTimeUnixNano: bigint;
  timeUnixNano: bigint;
}
interface FlatMetric {
  unit: string;
  kind: 'counter' | 'updowncounter' | 'gauge' | 'other';
  /** Only for sums: 2 = cumulative. */
  temporality: number | undefined;
  points: FlatPoint[];
}
interface FlatResource {
  attrs: Record<string, string>;
  scope: string;
  metrics: Map<string, FlatMetric>;
}

function plain(kvs: readonly KeyValueMessage[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of kvs) {
    const kv = keyValueFromMessage(m);
    out[kv.key] = typeof kv.value === 'string' || typeof kv.value === 'number' || typeof kv.value === 'bigint' || typeof kv.value === 'boolean' ? String(kv.value) : JSON.stringify(kv.value);
  }
  return out;
}

function flattenMetrics(body: Uint8Array): FlatResource[] {
  const req = decodeMetricsRequest(body);
  return req.resourceMetrics.map((rm) => {
    const metrics = new Map<string, FlatMetric>();
    let scope = '';
    for (const sm of rm.scopeMetrics) {
      scope = sm.scope?.name ?? '';
      for (const m of sm.metrics) {
        let kind: FlatMetric['kind'] = 'other';
        let temporality: number | undefined;
        let dps: NumberDataPoint[] = [];
        if (m.data.case === 'sum') {
          kind = m.data.value.isMonotonic ? 'counter' : 'updowncounter';
          temporality = m.data.value.aggregationTemporality;
          dps = m.data.value.dataPoints;
        } else if (m.data.case === 'gauge') {
          kind = 'gauge';
          dps = m.data.value.dataPoints;
        }
        metrics.set(m.name, {
          unit: m.unit,
          kind,
          temporality,
          points: dps.map((p) => ({ attrs: plain(p.attributes), value: p.value.value ?? Number.NaN, startTimeUnixNano: p.startTimeUnixNano, timeUnixNano: p.timeUnixNano })),
        });
      }
    }
    return { attrs: plain(rm.resource?.attributes ?? []), scope, metrics };
  });
}

/** The value of the one point of `metric` whose attributes include `match`; throws when not exactly one matches. */
function pointValue(r: FlatResource, metric: string, match: Record<string, string> = {}): number | bigint {
  const m = r.metrics.get(metric);
  if (m === undefined) throw new Error(`no metric ${metric}; have ${[...r.metrics.keys()].join(', ')}`);
  const ps = m.points.filter((p) => Object.entries(match).every(([k, v]) => p.attrs[k] === v));
  if (ps.length !== 1) throw new Error(`${ps.length} points of ${metric} match ${JSON.stringify(match)}`);
  const p = ps[0];
  if (p === undefined) throw new Error('unreachable');
  return p.value;
}

export { flattenMetrics, pointValue };
export type { FlatResource, FlatMetric, FlatPoint };
