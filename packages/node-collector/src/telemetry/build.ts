// Small builders for OTLP metric messages (the @sextant/otlp init shapes). Instrument kinds follow the semantic
// conventions: a counter is a cumulative monotonic Sum, an updowncounter a cumulative non-monotonic Sum, a gauge a Gauge.
import { AggregationTemporality, keyValueToMessage } from '@sextant/otlp';
import type { MetricsRequestInit } from '@sextant/otlp';

type ResourceMetricsInit = NonNullable<MetricsRequestInit['resourceMetrics']>[number];
type ScopeMetricsInit = NonNullable<ResourceMetricsInit['scopeMetrics']>[number];
type MetricInit = NonNullable<ScopeMetricsInit['metrics']>[number];

type Attrs = Record<string, string>;

interface Point {
  attrs?: Attrs;
  /** A bigint is sent as as_int, a number as as_double. */
  value: number | bigint;
}

type Kind = 'counter' | 'updowncounter' | 'gauge';

const SCOPE = { name: '@sextant/node-collector', version: '0.1.0' };

function attrs(a: Attrs | undefined): ReturnType<typeof keyValueToMessage>[] {
  if (a === undefined) return [];
  return Object.entries(a).map(([k, v]) => keyValueToMessage({ key: k, value: v }));
}

/** Collects metrics of one resource; points of one name are merged into one Metric. */
class MetricSet {
  private readonly byName = new Map<string, { kind: Kind; unit: string; points: Point[] }>();
  private readonly timeNs: bigint;
  private readonly startNs: bigint | undefined;

  constructor(timeNs: bigint, startNs: bigint | undefined) {
    this.timeNs = timeNs;
    this.startNs = startNs;
  }

  add(name: string, kind: Kind, unit: string, value: number | bigint | undefined, a?: Attrs): void {
    if (value === undefined || (typeof value === 'number' && !Number.isFinite(value))) return;
    let m = this.byName.get(name);
    if (m === undefined) {
      m = { kind, unit, points: [] };
      this.byName.set(name, m);
    }
    m.points.push(a === undefined ? { value } : { value, attrs: a });
  }

  get size(): number {
    return this.byName.size;
  }

  metrics(): MetricInit[] {
    const out: MetricInit[] = [];
    for (const [name, m] of this.byName) {
      const dataPoints = m.points.map((p) => ({
        timeUnixNano: this.timeNs,
        ...(m.kind !== 'gauge' && this.startNs !== undefined ? { startTimeUnixNano: this.startNs } : {}),
        attributes: attrs(p.attrs),
        value: typeof p.value === 'bigint' ? { case: 'asInt' as const, value: p.value } : { case: 'asDouble' as const, value: p.value },
      }));
      const data =
        m.kind === 'gauge'
          ? { case: 'gauge' as const, value: { dataPoints } }
          : {
              case: 'sum' as const,
              value: { dataPoints, aggregationTemporality: AggregationTemporality.CUMULATIVE, isMonotonic: m.kind === 'counter' },
            };
      out.push({ name, unit: m.unit, data });
    }
    return out;
  }

  resource(resourceAttrs: Attrs): ResourceMetricsInit {
    return { resource: { attributes: attrs(resourceAttrs) }, scopeMetrics: [{ scope: SCOPE, metrics: this.metrics() }] };
  }
}

function nowNs(): bigint {
  return BigInt(Date.now()) * 1_000_000n;
}

/** A non-negative integer as bigint, or undefined for anything else (kubelet omits fields it cannot read). */
function int(v: unknown): bigint | undefined {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return BigInt(Math.trunc(v));
  return undefined;
}

export { MetricSet, nowNs, int };
export type { ResourceMetricsInit, MetricInit, Attrs, Kind };
