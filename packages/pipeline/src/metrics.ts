// Self-metrics on prom-client, named the Prometheus way: sextant_<component>_<what>[_unit][_total].
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { Queue } from './queue.ts';

export interface MetricOptions<L extends string> {
  help: string;
  labelNames?: readonly L[];
}

export interface Metrics {
  readonly registry: Registry;
  /** `sextant_<component>_` */
  readonly prefix: string;
  /** Counter `<prefix><name>`; `name` must end in `_total`. Created once, returned again on repeat calls. */
  counter<L extends string = never>(name: string, opts: MetricOptions<L>): Counter<L>;
  gauge<L extends string = never>(name: string, opts: MetricOptions<L> & { collect?: (this: Gauge<L>) => void | Promise<void> }): Gauge<L>;
  /** Histogram; `name` ends in a unit (`_seconds`, `_bytes`). */
  histogram<L extends string = never>(name: string, opts: MetricOptions<L> & { buckets?: number[] }): Histogram<L>;
  /** The delivery-contract counter `<prefix>dropped_total{reason}`; every loss path increments it. */
  dropped(): Counter<'reason'>;
  /** `<prefix>truncated_total{reason}` */
  truncated(): Counter<'reason'>;
  /** `<prefix>skipped_bytes_total{reason}` */
  skippedBytes(): Counter<'reason'>;
  /** Text exposition for GET /metrics. */
  text(): Promise<string>;
  readonly contentType: string;
}

/**
 * A registry with the default process metrics (prefixed `sextant_<component>_`) plus typed helpers.
 * `component` is e.g. `enrichment`, `node_collector`.
 */
export function createMetrics(component: string, options: { defaultMetrics?: boolean } = {}): Metrics {
  if (!/^[a-z][a-z0-9_]*$/.test(component)) {
    throw new TypeError(`metrics component "${component}" must be snake_case (e.g. enrichment, node_collector)`);
  }
  const prefix = `sextant_${component}_`;
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix });
  const made = new Map<string, unknown>();
  const once = <T>(name: string, make: () => T): T => {
    if (!made.has(name)) made.set(name, make());
    return made.get(name) as T;
  };
  const metrics: Metrics = {
    registry,
    prefix,
    counter<L extends string = never>(name: string, opts: MetricOptions<L>): Counter<L> {
      if (!name.endsWith('_total')) throw new TypeError(`counter "${name}" must end in _total`);
      return once(name, () => new Counter<L>({ name: prefix + name, help: opts.help, labelNames: opts.labelNames ?? [], registers: [registry] }));
    },
    gauge<L extends string = never>(name: string, opts: MetricOptions<L> & { collect?: (this: Gauge<L>) => void | Promise<void> }): Gauge<L> {
      return once(name, () => new Gauge<L>({
        name: prefix + name, help: opts.help, labelNames: opts.labelNames ?? [], registers: [registry],
        ...(opts.collect === undefined ? {} : { collect: opts.collect }),
      }));
    },
    histogram<L extends string = never>(name: string, opts: MetricOptions<L> & { buckets?: number[] }): Histogram<L> {
      return once(name, () => new Histogram<L>({
        name: prefix + name, help: opts.help, labelNames: opts.labelNames ?? [], registers: [registry],
        ...(opts.buckets === undefined ? {} : { buckets: opts.buckets }),
      }));
    },
    dropped: () => metrics.counter('dropped_total', { help: 'Items lost, by reason. Every loss path counts here.', labelNames: ['reason'] }),
    truncated: () => metrics.counter('truncated_total', { help: 'Records cut to a size cap, by reason.', labelNames: ['reason'] }),
    skippedBytes: () => metrics.counter('skipped_bytes_total', { help: 'Input bytes skipped without being read, by reason.', labelNames: ['reason'] }),
    text: () => registry.metrics(),
    contentType: registry.contentType,
  };
  return metrics;
}

/**
 * Gauges for a durable queue, read at scrape time: `<prefix>queue_depth`, `_queue_bytes`,
 * `_queue_disk_bytes`, `_queue_max_bytes`, `_queue_dead_letter_items`, `_queue_dead_letter_bytes`,
 * `_queue_full_rejections`, `_queue_dead_letter_dropped`, `_queue_commits`.
 */
export function registerQueueMetrics(metrics: Metrics, queue: Queue): void {
  const g = (name: string, help: string, read: () => number): void => {
    metrics.gauge(name, {
      help,
      collect() {
        this.set(read());
      },
    });
  };
  g('queue_depth', 'Items in the durable queue (not yet acked).', () => queue.stats().depth);
  g('queue_bytes', 'Bytes of the items in the durable queue.', () => queue.stats().bytes);
  g('queue_disk_bytes', 'Bytes the queue segments take on disk.', () => queue.stats().diskBytes);
  g('queue_max_bytes', 'Configured disk bound of the queue.', () => queue.stats().maxBytes);
  g('queue_dead_letter_items', 'Items in the dead-letter store.', () => queue.stats().deadLetter.count);
  g('queue_dead_letter_bytes', 'Bytes in the dead-letter store.', () => queue.stats().deadLetter.bytes);
  g('queue_commits', 'Group commits (write + fdatasync) of the queue since open.', () => queue.stats().commits);
  g('queue_full_rejections', 'Enqueue calls answered "full" (the caller was told to retry) since open.', () => queue.stats().fullRejections);
  g('queue_dead_letter_dropped', 'Items dropped because the dead-letter store was full (persisted across restarts); the export loop also counts them in dropped_total{reason="dead_letter_full"}.', () => queue.stats().deadLetter.dropped);
}
