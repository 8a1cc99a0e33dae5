// Assembles the enrichment service from its config: @sextant/otlp's splice and codecs,
// @sextant/kube-metadata's cache, @sextant/pipeline's queue, logger and exporter.
import { createMetadataCache } from '@sextant/kube-metadata';
import type { MetadataCache, MetadataSource, PodInfo } from '@sextant/kube-metadata';
import {
  OtlpDecodeError,
  decodeLogsRequestJson,
  decodeMetricsRequestJson,
  encodeLogsRequest,
  encodeMetricsRequest,
  readResources,
  rewriteResources,
  rewriteResourcesParts,
  scanResourceContent,
  countResourceRecords,
} from '@sextant/otlp';
import { createDiskQueue, createLogger } from '@sextant/pipeline';
import type { Logger } from '@sextant/pipeline';
import { resolveEnrichmentConfig } from './config.ts';
import type { EnrichmentConfig } from './config.ts';
import { countRecords } from './count.ts';
import type { ResourcePodKey, SpliceSignal } from './enrich.ts';
import { createExportComponent } from './export.ts';
import type { EnrichmentMetrics } from './metrics.ts';
import { createServiceFromParts } from './service.ts';
import type { EnrichmentService, MetadataComponent, ServiceParts } from './service.ts';
import type { EnrichmentServiceWithSources } from './events/attach.ts';
import type { Queue } from '@sextant/pipeline';

interface EnrichmentServiceOptions {
  /** Default: pino to stdout at config.log.level. */
  logger?: Logger;
}

function metadataComponent(cache: MetadataCache, log: Logger): MetadataComponent<PodInfo> {
  return {
    start() {
      cache.start().catch((err: unknown) => log.error({ err }, 'metadata cache failed to start'));
    },
    synced: () => cache.synced,
    stats: () => cache.stats(),
    waitForPod: (key: ResourcePodKey, timeoutMs: number) => cache.waitForPod(key, timeoutMs),
    attributesFor: (pod, containerName) => cache.attributesFor(pod, containerName),
    isExcluded: (pod) => cache.isExcluded(pod),
    shutdown: () => cache.shutdown(),
  };
}

function listenTlsFiles(config: EnrichmentConfig): ServiceParts<PodInfo>['tls'] {
  const t = config.listen.tls;
  if (t.certFile === undefined || t.keyFile === undefined) return undefined;
  return { certFile: t.certFile, keyFile: t.keyFile, clientCaFile: t.clientCaFile, reloadIntervalMs: t.reloadInterval };
}

/**
 * The enrichment service of issue 5: OTLP/HTTP on :24321, pod metadata from the API server,
 * a durable queue, export to the backend. Throws a coded error when the config is invalid.
 */
function createEnrichmentService(input: Record<string, unknown> | EnrichmentConfig = {}, options: EnrichmentServiceOptions = {}): EnrichmentServiceWithSources {
  const config = resolveEnrichmentConfig(input);
  const logger = options.logger ?? createLogger({ level: config.log.level, name: 'enrichment' });
  let metrics: EnrichmentMetrics | undefined;
  const md = config.metadata;
  const source: MetadataSource =
    md.source === 'in-cluster'
      ? { kind: 'in-cluster' }
      : md.source === 'kubeconfig'
        ? { kind: 'kubeconfig', path: md.path ?? '', ...(md.context === undefined ? {} : { context: md.context }) }
        : { kind: 'file', path: md.path ?? '', watch: md.watchFile };
  const cache = createMetadataCache({
    source,
    ...(md.clusterName !== undefined ? { clusterName: md.clusterName } : {}),
    rules: md.rules.map((r) => ({
      from: r.from,
      source: r.source,
      ...(r.key === undefined ? {} : { key: r.key }),
      ...(r.keyRegex === undefined ? {} : { keyRegex: r.keyRegex }),
      ...(r.tagName === undefined ? {} : { tagName: r.tagName }),
    })),
    exclude: md.exclude,
    deletedPodGraceMs: md.deletedPodGrace,
    waitForPodMs: md.waitForPod,
    informers: {
      namespaces: md.informers.namespaces,
      owners: md.informers.owners,
      ...(md.informers.nodes === undefined ? {} : { nodes: md.informers.nodes }),
    },
    useWellKnownLabels: md.useWellKnownLabels,
    onMiss: (reason) => metrics?.misses.inc({ reason }),
    onError: (err) => logger.warn({ err }, 'metadata watch error; retrying'),
  });
  let queue: Queue | undefined;
  const base: EnrichmentService = createServiceFromParts<PodInfo>({
    listen: { host: config.listen.host, port: config.listen.port },
    tls: listenTlsFiles(config),
    limits: config.limits,
    waitForPodMs: md.waitForPod,
    coalesce: { maxBytes: config.queue.coalesceMaxBytes, maxItems: config.queue.coalesceMaxRequests, bySource: config.export.order === 'source' },
    shutdownGraceMs: config.shutdownGrace,
    logger,
    splice: { readResources, rewriteResources, rewriteResourcesParts, scanResourceContent, countResourceRecords },
    jsonToProtobuf: (signal: SpliceSignal, body: Uint8Array) =>
      signal === 'logs' ? encodeLogsRequest(decodeLogsRequestJson(body)) : encodeMetricsRequest(decodeMetricsRequestJson(body)),
    countRecords: (signal, body, indexes) => countRecords(signal, body, indexes),
    isDecodeError: (err) => err instanceof OtlpDecodeError,
    openQueue: async () => (queue = await createDiskQueue({ dir: config.queue.dir, maxBytes: config.queue.maxBytes, logger })),
    metadata: metadataComponent(cache, logger),
    createExporter: (queue, m) => createExportComponent(config, queue, m, logger),
    onMetrics: (m) => {
      metrics = m;
    },
  });
  // Kubernetes events and the audit webhook (issue 10), when enabled.
  return withLazySecuritySources(base, config, () => import('./events/attach.ts').then((m) => m.withSecuritySources(base, { config, logger, queue: () => queue, metrics: () => metrics?.base, pods: cache })));
}

/**
 * The events source and the audit webhook are imported on start() and only when enabled: their
 * code is not loaded (nor kept in the heap) by a service that runs without them.
 */
function withLazySecuritySources(base: EnrichmentService, config: EnrichmentConfig, load: () => Promise<EnrichmentServiceWithSources>): EnrichmentServiceWithSources {
  if (!config.events.enabled && !config.audit.enabled) return { ...base, auditAddress: () => undefined, eventsSource: () => undefined };
  let full: EnrichmentServiceWithSources | undefined;
  return {
    ...base,
    async start() {
      full = await load();
      await full.start();
    },
    shutdown: () => (full ?? base).shutdown(),
    auditAddress: () => full?.auditAddress(),
    eventsSource: () => full?.eventsSource(),
  };
}

export { createEnrichmentService };
export type { EnrichmentServiceOptions };
