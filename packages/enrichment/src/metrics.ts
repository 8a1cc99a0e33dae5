// Self-metrics, named the Prometheus way (unit suffixes, _total for counters), under the
// sextant_enrichment_ prefix. Gauges that mirror another component's state (queue, metadata
// cache) are read at scrape time through collect(), so nothing polls in between.
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

type Signal = 'logs' | 'metrics';

interface QueueGaugeSource {
  depth: number;
  bytes: number;
  diskBytes: number;
  maxBytes: number;
  fullRejections: number;
  deadLetter: { count: number; bytes: number; dropped: number };
}

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
  readonly registry: Registry;
  requests: Counter<'signal' | 'code'>;
  receivedBytes: Counter<'signal'>;
  receivedDecodedBytes: Counter<'signal'>;
  receivedResources: Counter<'signal'>;
  receivedRecords: Counter<'signal'>;
  enrichedResources: Counter<'signal'>;
  enrichedRecords: Counter<'signal'>;
  misses: Counter<'reason'>;
  dropped: Counter<'signal' | 'reason'>;
  droppedRecords: Counter<'signal' | 'reason'>;
  enqueueSeconds: Histogram;
  exports: Counter<'signal' | 'result'>;
  exportedRecords: Counter<'signal'>;
  deadLettered: Counter<'signal' | 'reason'>;
}

function createEnrichmentMetrics(sources: {
  queue: () => QueueGaugeSource | undefined;
  metadata: () => MetadataGaugeSource | undefined;
}): EnrichmentMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sextant_enrichment_process_' });
  const registers = [registry];
  const p = 'sextant_enrichment_';
  const metrics: EnrichmentMetrics = {
    registry,
    requests: new Counter({ name: `${p}requests_total`, help: 'OTLP/HTTP export requests answered, by signal and HTTP status code', labelNames: ['signal', 'code'], registers }),
    receivedBytes: new Counter({ name: `${p}received_bytes_total`, help: 'Request body bytes received on the wire (compressed), by signal', labelNames: ['signal'], registers }),
    receivedDecodedBytes: new Counter({ name: `${p}received_decoded_bytes_total`, help: 'Request body bytes after decompression, by signal', labelNames: ['signal'], registers }),
    receivedResources: new Counter({ name: `${p}received_resources_total`, help: 'Resources (ResourceLogs/ResourceMetrics) in accepted requests', labelNames: ['signal'], registers }),
    receivedRecords: new Counter({ name: `${p}received_records_total`, help: 'Log records or metric data points in accepted requests', labelNames: ['signal'], registers }),
    enrichedResources: new Counter({ name: `${p}enriched_resources_total`, help: 'Resources that got pod metadata', labelNames: ['signal'], registers }),
    enrichedRecords: new Counter({ name: `${p}enriched_records_total`, help: 'Log records or data points under a resource that got pod metadata', labelNames: ['signal'], registers }),
    misses: new Counter({ name: `${p}metadata_misses_total`, help: 'Pod lookups that found no pod, by reason (no_key, not_synced, not_found_after_wait); the resource passed through unenriched', labelNames: ['reason'], registers }),
    dropped: new Counter({ name: `${p}dropped_total`, help: 'Resources dropped on purpose (reason="excluded": the pod opted out by annotation)', labelNames: ['signal', 'reason'], registers }),
    droppedRecords: new Counter({ name: `${p}dropped_records_total`, help: 'Log records or data points under dropped resources, by reason', labelNames: ['signal', 'reason'], registers }),
    enqueueSeconds: new Histogram({ name: `${p}enqueue_duration_seconds`, help: 'Time from enqueue to durable (fsync) acknowledgement', buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers }),
    exports: new Counter({ name: `${p}export_batches_total`, help: 'Export attempts of queued batches to the backend, by result (ok, retryable, failure)', labelNames: ['signal', 'result'], registers }),
    exportedRecords: new Counter({ name: `${p}exported_records_total`, help: 'Log records or data points the backend accepted', labelNames: ['signal'], registers }),
    deadLettered: new Counter({ name: `${p}dead_lettered_total`, help: 'Batches moved to the dead-letter store after a permanent export failure, by outcome (stored, dropped)', labelNames: ['signal', 'reason'], registers }),
  };

  const queueGauge = (name: string, help: string, pick: (q: QueueGaugeSource) => number): void => {
    new Gauge({
      name: `${p}${name}`,
      help,
      registers,
      collect() {
        const q = sources.queue();
        if (q !== undefined) this.set(pick(q));
      },
    });
  };
  queueGauge('queue_depth', 'Batches in the durable queue not yet exported (leased ones included)', (q) => q.depth);
  queueGauge('queue_bytes', 'Bytes of the batches in the durable queue', (q) => q.bytes);
  queueGauge('queue_disk_bytes', 'Bytes the queue segment files take on disk', (q) => q.diskBytes);
  queueGauge('queue_max_bytes', 'Configured bound of the queue on disk', (q) => q.maxBytes);
  queueGauge('queue_full_rejections', 'Enqueues answered "full" (HTTP 429) since the queue was opened', (q) => q.fullRejections);
  queueGauge('dead_letter_batches', 'Batches held in the dead-letter store', (q) => q.deadLetter.count);
  queueGauge('dead_letter_bytes', 'Bytes held in the dead-letter store', (q) => q.deadLetter.bytes);
  queueGauge('dead_letter_dropped_batches', 'Dead letters dropped because the dead-letter store was full', (q) => q.deadLetter.dropped);

  new Gauge({
    name: `${p}metadata_cache_objects`,
    help: 'Objects held in the metadata cache, by kind (deleted_pods: kept for their grace period)',
    labelNames: ['kind'],
    registers,
    collect() {
      const m = sources.metadata();
      if (m === undefined) return;
      this.set({ kind: 'pods' }, m.pods);
      this.set({ kind: 'deleted_pods' }, m.deletedPods);
      this.set({ kind: 'namespaces' }, m.namespaces);
      this.set({ kind: 'nodes' }, m.nodes);
      this.set({ kind: 'replicasets' }, m.replicaSets);
      this.set({ kind: 'jobs' }, m.jobs);
    },
  });
  new Gauge({
    name: `${p}metadata_synced`,
    help: '1 once the initial LIST of every watched kind is in the cache',
    registers,
    collect() {
      const m = sources.metadata();
      this.set(m?.synced === true ? 1 : 0);
    },
  });
  // The cache keeps its own monotonic counts; mirrored at scrape time.
  const mirrored = (name: string, help: string, pick: (m: MetadataGaugeSource) => number): void => {
    new Counter({
      name: `${p}${name}`,
      help,
      registers,
      collect() {
        const m = sources.metadata();
        if (m === undefined) return;
        this.reset();
        this.inc(pick(m));
      },
    });
  };
  mirrored('metadata_relists_total', 'Full relists of a watched kind (initial LIST, 410 Gone, reconnects)', (m) => m.relists);
  mirrored('metadata_watch_errors_total', 'Watch or list errors the cache retried with backoff', (m) => m.errors);
  mirrored('metadata_evicted_pods_total', 'Deleted pods evicted after their grace period', (m) => m.evictedPods);
  mirrored('metadata_found_after_wait_total', 'Pod lookups that succeeded only after waiting for the cache', (m) => m.foundAfterWait);
  return metrics;
}

export { createEnrichmentMetrics };
export type { EnrichmentMetrics, MetadataGaugeSource, QueueGaugeSource, Signal };
