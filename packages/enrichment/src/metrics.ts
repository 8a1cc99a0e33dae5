// Self-metrics, named the Prometheus way, all `sextant_enrichment_…` (@sextant/pipeline
// createMetrics). Gauges mirroring another component's state (queue, metadata cache) are read
// at scrape time, so nothing polls in between.
import { createMetrics, registerQueueMetrics } from '@sextant/pipeline';
import type { Metrics, Queue } from '@sextant/pipeline';
import type { Counter, Histogram } from 'prom-client';

/** Metadata cache figures read at scrape time (@sextant/kube-metadata's MetadataCacheStats). */
interface MetadataGaugeSource {
  readonly synced: boolean;
  readonly pods: number;
  readonly deletedPods: number;
  readonly namespaces: number;
  readonly nodes: number;
  readonly replicaSets: number;
  readonly jobs: number;
  readonly relists: number;
  readonly errors: number;
  readonly evictedPods: number;
  readonly foundAfterWait: number;
}

interface EnrichmentMetrics {
  readonly base: Metrics;
  requests: Counter<'signal' | 'code'>;
  receivedBytes: Counter<'signal'>;
  receivedDecodedBytes: Counter<'signal'>;
  receivedResources: Counter<'signal'>;
  receivedRecords: Counter<'signal'>;
  enrichedResources: Counter<'signal'>;
  enrichedRecords: Counter<'signal'>;
  misses: Counter<'reason'>;
  /** The delivery-contract counter `dropped_total{reason}`: records dropped (excluded pods; dead letters are counted by the export loop). */
  dropped: Counter<'reason'>;
  excludedResources: Counter<'signal'>;
  enqueueSeconds: Histogram;
  exportedRecords: Counter<'signal'>;
  /** Adds the queue gauges once the queue is open. */
  watchQueue(queue: Queue): void;
}

function createEnrichmentMetrics(metadata: () => MetadataGaugeSource | undefined): EnrichmentMetrics {
  const m = createMetrics('enrichment');
  const c = <L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> => m.counter<L>(name, { help, labelNames });
  const out: EnrichmentMetrics = {
    base: m,
    requests: c('requests_total', 'OTLP/HTTP export requests answered, by signal and HTTP status code.', ['signal', 'code']),
    receivedBytes: c('received_bytes_total', 'Request body bytes received on the wire (compressed), by signal.', ['signal']),
    receivedDecodedBytes: c('received_decoded_bytes_total', 'Request body bytes after decompression, by signal.', ['signal']),
    receivedResources: c('received_resources_total', 'Resources (ResourceLogs/ResourceMetrics) in well-formed requests.', ['signal']),
    receivedRecords: c('received_records_total', 'Log records or metric data points in well-formed requests.', ['signal']),
    enrichedResources: c('enriched_resources_total', 'Resources that got pod metadata.', ['signal']),
    enrichedRecords: c('enriched_records_total', 'Log records or data points under a resource that got pod metadata.', ['signal']),
    misses: c('metadata_misses_total', 'Pod lookups that found no pod, by reason (no_key, not_synced, not_found_after_wait); the resource passed through unenriched.', ['reason']),
    dropped: m.dropped(),
    excludedResources: c('excluded_resources_total', 'Resources dropped because their pod or namespace opted out by annotation.', ['signal']),
    enqueueSeconds: m.histogram('enqueue_duration_seconds', { help: 'Time from enqueue to the durable (fdatasync) acknowledgement.', buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5] }),
    exportedRecords: c('exported_records_total', 'Log records or data points the backend accepted.', ['signal']),
    watchQueue: (queue) => registerQueueMetrics(m, queue),
  };

  m.gauge<'kind'>('metadata_cache_objects', {
    help: 'Objects held in the metadata cache, by kind (deleted_pods: kept for their grace period).',
    labelNames: ['kind'],
    collect() {
      const s = metadata();
      if (s === undefined) return;
      this.set({ kind: 'pods' }, s.pods);
      this.set({ kind: 'deleted_pods' }, s.deletedPods);
      this.set({ kind: 'namespaces' }, s.namespaces);
      this.set({ kind: 'nodes' }, s.nodes);
      this.set({ kind: 'replicasets' }, s.replicaSets);
      this.set({ kind: 'jobs' }, s.jobs);
    },
  });
  m.gauge('metadata_synced', {
    help: '1 once the initial LIST of every watched kind is in the cache.',
    collect() {
      this.set(metadata()?.synced === true ? 1 : 0);
    },
  });
  // The cache keeps its own monotonic counts; mirrored at scrape time as counters.
  const mirrored = (name: string, help: string, pick: (s: MetadataGaugeSource) => number): void => {
    const counter = m.counter(name, { help });
    const read = counter.get.bind(counter);
    counter.get = async () => {
      const s = metadata();
      if (s !== undefined) {
        counter.reset();
        counter.inc(pick(s));
      }
      return read();
    };
  };
  mirrored('metadata_relists_total', 'Full lists of a watched kind (initial sync, 410 Gone, reconnects).', (s) => s.relists);
  mirrored('metadata_watch_errors_total', 'Watch or list errors the cache retried with backoff.', (s) => s.errors);
  mirrored('metadata_evicted_pods_total', 'Deleted pods evicted after their grace period.', (s) => s.evictedPods);
  mirrored('metadata_found_after_wait_total', 'Pod lookups that succeeded only after waiting for the cache.', (s) => s.foundAfterWait);
  return out;
}

export { createEnrichmentMetrics };
export type { EnrichmentMetrics, MetadataGaugeSource };
