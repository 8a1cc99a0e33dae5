// The exporting side: @sextant/pipeline's exporter for the configured protocol, its retry
// policy and export loop (ack only after the backend accepted; retryable → hold and back off;
// permanent → counted dead letter). Wrapped to count the records the backend accepted.
import { SextantError, createExportLoop, inflateStored, createFileExporter, createOtlpGrpcExporter, createOtlpHttpExporter, createRetryPolicy, exporterConfig, exporterFromConfig } from '@sextant/pipeline';
import type { Exporter, Logger, Queue, QueueItem } from '@sextant/pipeline';
import type { EnrichmentConfig } from './config.ts';
import { countRecords } from './count.ts';
import type { EnrichmentMetrics } from './metrics.ts';
import type { ExportComponent } from './service.ts';
import { createBatchingExporter, encodingOf } from './export-batch.ts';
import { toHecEvents } from './export-hec.ts';

// The export loop leases this many items per backend request in flight, so that items waiting
// for a send slot can leave merged (export-batch.ts).
const ITEMS_PER_SEND = 8;

function createExporter(config: EnrichmentConfig, logger: Logger): Exporter {
  const e = config.exporter;
  const tls = e.tls;
  const common = { headers: e.headers, timeoutMs: e.timeout, tls, logger };
  switch (e.protocol) {
    case 'otlp_http':
      // Level 1 for both codecs. On a merged 4 MB batch of access-log-like records (bench/enrichment
      // --load collector; node:zlib, this VM, loaded): gzip 2.5 µs of CPU per record at level 1
      // against 4.9 at the default 6 (ratio 3.7 vs 4.0); zstd 0.9–1.9 µs at level 1 against 1.7–3.8
      // at the default 3 (ratio 4.2 vs 4.0). Earlier, on repetitive records, gzip 1 ran at 615 MB per
      // CPU-second against 121 for level 6 (bench/README.md "enrichment").
      return createOtlpHttpExporter({ ...common, endpoint: e.endpoint ?? '', compression: e.compression, ...(e.compression === 'none' ? {} : { compressionLevel: 1 }) });
    case 'otlp_grpc':
      return createOtlpGrpcExporter({ ...common, endpoint: e.endpoint ?? '', insecure: e.insecure, compression: e.compression === 'zstd' ? 'gzip' : e.compression });
    case 'splunk_hec': {
      // Built by the shared preset (the same keys, checks and HEC exporter as other components).
      const preset = exporterConfig().parse(
        { protocol: 'splunk_hec', endpoint: e.endpoint, headers: e.headers, compression: e.compression, timeout: e.timeout, tls: e.tls, splunk: e.splunk },
        'exporter',
        false,
      );
      if (!preset.ok) throw new SextantError('SEXTANT_CONFIG_INVALID', preset.issues.join('\n  '));
      return exporterFromConfig(preset.value, { toHecEvents, logger, path: 'exporter' });
    }
    case 'file':
      return createFileExporter({ path: e.path ?? '' });
  }
}

/**
 * Items stored as zstd frames or gzip members (the compressed splice, enrich.ts). The otlp_http
 * exporter reads ExportItem.contentEncoding itself: it sends them as they are when that is its
 * compression (no decompress, no recompress) and inflates them otherwise. Every other exporter gets
 * the decompressed request from here.
 */
function encodedItems(inner: Exporter, readsContentEncoding: boolean): Exporter {
  return {
    name: inner.name,
    async export(item) {
      const encoding = encodingOf(item);
      if (encoding === undefined) return inner.export(item);
      if (readsContentEncoding) {
        // A merged batch (export-batch.ts encodedBatch) is already marked and is sent from its
        // parts: reading its `payload` here would join them, one copy of every exported byte.
        if (item.contentEncoding === encoding) return inner.export(item);
        return inner.export({ signal: item.signal, payload: item.payload, meta: item.meta, contentEncoding: encoding });
      }
      let payload: Buffer;
      try {
        payload = await inflateStored(item.payload, encoding);
      } catch (err) {
        return { kind: 'failure', error: err as Error };
      }
      const m = item.meta;
      const meta = m !== null && typeof m === 'object' && !Array.isArray(m) ? Object.fromEntries(Object.entries(m).filter(([k]) => k !== 'encoding')) : m;
      return inner.export({ signal: item.signal, payload, meta });
    },
    shutdown: () => inner.shutdown(),
  };
}

function countingExporter(inner: Exporter, metrics: EnrichmentMetrics): Exporter {
  return {
    name: inner.name,
    async export(item) {
      const result = await inner.export(item);
      if (result.kind === 'ok' && (item.signal === 'logs' || item.signal === 'metrics')) {
        // Items carry their record count from ingest (coalesce.ts ItemMeta); older items are walked.
        const m = item.meta;
        const carried = m !== null && typeof m === 'object' && !Array.isArray(m) ? m['records'] : undefined;
        metrics.exportedRecords.inc({ signal: item.signal }, typeof carried === 'number' ? carried : walkedRecords(item.signal, item.payload));
      }
      return result;
    },
    shutdown: () => inner.shutdown(),
  };
}

/** Records of an item stored without its count; bytes the walk cannot read count as none (the export itself succeeded). */
function walkedRecords(signal: 'logs' | 'metrics', payload: Uint8Array): number {
  try {
    return countRecords(signal, payload);
  } catch {
    return 0;
  }
}

function sourceOf(item: QueueItem): string | undefined {
  const m = item.meta;
  const source = m !== null && typeof m === 'object' && !Array.isArray(m) ? m['source'] : undefined;
  return typeof source === 'string' ? source : undefined;
}

function createExportComponent(config: EnrichmentConfig, queue: Queue, metrics: EnrichmentMetrics, logger: Logger): ExportComponent {
  const x = config.export;
  const inner = encodedItems(createExporter(config, logger), config.exporter.protocol === 'otlp_http');
  // The file exporter writes one line per item; the OTLP ones send merged batches.
  const batching = config.exporter.protocol !== 'file';
  const batcher = batching ? createBatchingExporter(inner, { maxInFlight: x.concurrency, maxBytes: config.queue.coalesceMaxBytes, lingerMs: x.linger }) : undefined;
  const exporter = batcher ?? inner;
  const loop = createExportLoop({
    queue,
    exporter: countingExporter(exporter, metrics),
    retry: createRetryPolicy({ initialMs: x.initialBackoff, maxMs: x.maxBackoff, maxElapsedMs: x.maxElapsed }),
    concurrency: batching ? x.concurrency * ITEMS_PER_SEND : x.concurrency,
    drainOnShutdownMs: x.drainOnShutdown,
    // Items with a meta.source go one at a time per source, in queue order, retries included (the
    // loop's default key). Under export.order source the ingest stores each source's requests in
    // items of their own named by it (coalesce.ts), so a merged send holds at most one item of a
    // source and a source's batches never overtake each other, while other sources keep the sends
    // busy; under none, ingest items carry no source. Events and audit items always carry theirs.
    keyOf: sourceOf,
    logger,
    metrics: metrics.base,
    name: 'enrichment-export',
  });
  return {
    start() {
      loop.start().catch((err: unknown) => logger.error({ err }, 'export loop failed to start'));
    },
    // Lingering batches leave at once: the loop's shutdown waits for the exports in flight.
    shutdown: () => {
      if (batcher !== undefined) batcher.flush();
      return loop.shutdown();
    },
  };
}

export { createExportComponent };
