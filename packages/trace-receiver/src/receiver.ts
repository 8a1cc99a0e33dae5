// createTraceReceiver: wires the receivers (:4317, :4318), the metadata cache, the forwarder
// (direct or durable queue) and the telemetry listener (:8888). Start order is downstream
// first (exporter, queue, metadata, then listeners); shutdown stops upstream first.
import { createMetadataCache } from '@sextant/kube-metadata';
import type { MetadataCacheOptions } from '@sextant/kube-metadata';
import { createDiskQueue, createLogger } from '@sextant/pipeline';
import type { Logger, Queue } from '@sextant/pipeline';
import { countRecords } from '@sextant/otlp';
import { createEnricher } from './associate.ts';
import type { PodMetadata } from './associate.ts';
import { resolveTraceReceiverConfig } from './config.ts';
import type { TraceReceiverConfig } from './config.ts';
import { TraceReceiverError } from './errors.ts';
import { createDirectForwarder, createQueueForwarder } from './forward.ts';
import type { Forwarder, SpanSink } from './forward.ts';
import { createGrpcReceiver } from './grpc.ts';
import type { GrpcReceiver } from './grpc.ts';
import { createRequestHandler } from './handle.ts';
import { createHttpReceiver } from './http.ts';
import type { HttpReceiver } from './http.ts';
import { createReceiverMetrics, createTelemetryServer } from './metrics.ts';
import type { TelemetryServer } from './metrics.ts';
import { createClientAddressResolver } from './peer.ts';
import { noopSelfTracer, startSelfTracing } from './selftrace.ts';
import type { SelfTracer } from './selftrace.ts';
import { createSink } from './sink.ts';
import type { ClosableSink } from './sink.ts';
import { loadServerTls } from './tls.ts';

interface TraceReceiverOptions {
  /** Use this metadata cache (already started or not) instead of building one from `config.kube`. */
  readonly metadata?: PodMetadata & { start?(): Promise<void>; shutdown?(): Promise<void> };
  /** Use this exporter instead of building one from `config.exporter`. */
  readonly sink?: SpanSink;
  readonly logger?: Logger;
}

/** Ports actually bound (useful with port 0). */
interface TraceReceiverPorts {
  readonly grpc: number | undefined;
  readonly http: number | undefined;
  readonly telemetry: number;
}

interface TraceReceiver {
  /** Binds the listeners and starts exporting; the metadata sync continues in the background (/readyz). */
  start(): Promise<TraceReceiverPorts>;
  /** Stops accepting, drains in-flight requests and exports (bounded by shutdownTimeoutMs), closes everything. */
  shutdown(): Promise<void>;
  /** True once listening and the metadata cache has synced (what /readyz answers). */
  ready(): boolean;
  readonly config: TraceReceiverConfig;
}

function createTraceReceiver(config: TraceReceiverConfig | Record<string, unknown>, options: TraceReceiverOptions = {}): TraceReceiver {
  // Idempotent: an already resolved config passes through unchanged.
  const cfg: TraceReceiverConfig = resolveTraceReceiverConfig(config);
  const logger = options.logger ?? createLogger({ name: 'trace-receiver', level: cfg.log.level });
  const onError = (err: unknown): void => logger.error({ err }, 'request failed');
  const clientAddress = createClientAddressResolver({ cidrs: cfg.association.trustedProxies, header: cfg.association.clientAddressHeader });
  const grpcTls = loadServerTls(cfg.grpc.tls, 'grpc.tls');
  const httpTls = loadServerTls(cfg.http.tls, 'http.tls');

  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  let listening = false;
  let metadata: (PodMetadata & { start?(): Promise<void>; shutdown?(): Promise<void> }) | undefined = options.metadata;
  let ownsMetadata = false;
  let sink: ClosableSink | SpanSink | undefined = options.sink;
  let queue: Queue | undefined;
  let forwarder: Forwarder | undefined;
  let selfTracer: SelfTracer = noopSelfTracer;
  let grpc: GrpcReceiver | undefined;
  let http: HttpReceiver | undefined;
  let telemetry: TelemetryServer | undefined;

  const metrics = createReceiverMetrics(() => {
    if (forwarder === undefined) return undefined;
    const f = forwarder;
    return {
      pendingBytes: () => f.stats().pendingBytes,
      exportsInFlight: () => f.stats().exportsInFlight,
      exported: () => f.stats().exported,
      exportFailures: () => f.stats().failures,
      queueDepth: () => queue?.stats().depth,
      metadataSynced: () => metadata?.synced,
    };
  });

  const ready = (): { ready: boolean; reason: string } => {
    if (state !== 'running' || !listening) return { ready: false, reason: `receiver is ${state}` };
    if (metadata !== undefined && !metadata.synced) return { ready: false, reason: 'Kubernetes metadata has not synced yet' };
    return { ready: true, reason: '' };
  };

  let handlerStop: (() => void) | undefined;

  return {
    config: cfg,
    ready: () => ready().ready,
    async start() {
      if (state !== 'new') throw new TraceReceiverError('SEXTANT_TRACES_STATE', `start() called while the receiver is ${state}; create a new receiver`);
      state = 'starting';
      telemetry = createTelemetryServer({ host: cfg.telemetry.host, port: cfg.telemetry.port, registry: metrics.registry, live: () => state !== 'stopped', ready });
      const telemetryPort = await telemetry.start();
      selfTracer = await startSelfTracing(cfg.selfTracing);
      if (sink === undefined) sink = createSink(cfg.exporter);
      const tracedSink = sink;
      // The export path never produces self-traces (no loop; see selftrace.ts).
      const untracedSink: SpanSink = { export: (payload, signal) => selfTracer.untraced(() => tracedSink.export(payload, signal)) };
      if (cfg.queue.enabled) {
        queue = await createDiskQueue({ dir: cfg.queue.dir, maxBytes: cfg.queue.maxBytes, fullRetryAfterMs: cfg.limits.retryAfterMs, logger });
        forwarder = createQueueForwarder({
          sink: untracedSink,
          queue,
          concurrency: cfg.limits.exportConcurrency,
          maxBatchItems: 256,
          maxBatchBytes: cfg.limits.maxBatchBytes,
          backoff: { initialMs: 250, maxMs: 30_000 },
          onDeadLetter: (item, reason) => {
            metrics.droppedSpans.inc({ reason: 'dead_letter' }, safeCount(item.payload));
            logger.error({ id: item.id, reason }, 'backend refused spans permanently; moved to the dead-letter store');
          },
          onError: (err) => logger.error({ err }, 'export loop error'),
        });
      } else {
        forwarder = createDirectForwarder({
          sink: untracedSink,
          maxPendingBytes: cfg.limits.maxPendingBytes,
          concurrency: cfg.limits.exportConcurrency,
          maxBatchBytes: cfg.limits.maxBatchBytes,
          retryAfterMs: cfg.limits.retryAfterMs,
        });
      }
      forwarder.start();
      if (metadata === undefined && cfg.kube.enabled) {
        const opts: MetadataCacheOptions = {
          ...(cfg.kube.options as Partial<MetadataCacheOptions>),
          source: cfg.kube.source,
          ...(cfg.kube.clusterName === undefined ? {} : { clusterName: cfg.kube.clusterName }),
          waitForPodMs: cfg.association.waitForPodMs,
          onError: (err) => logger.warn({ err }, 'Kubernetes metadata error (retrying)'),
        };
        metadata = createMetadataCache(opts);
        ownsMetadata = true;
        await metadata.start?.();
      }
      const handler = createRequestHandler({
        enricher: createEnricher(metadata, { waitForPodMs: cfg.association.waitForPodMs }),
        forwarder,
        metrics,
        retryAfterMs: cfg.limits.retryAfterMs,
      });
      handlerStop = () => handler.stopAccepting();
      let grpcPort: number | undefined;
      let httpPort: number | undefined;
      if (cfg.grpc.enabled) {
        grpc = createGrpcReceiver({ host: cfg.grpc.host, port: cfg.grpc.port, maxMessageBytes: cfg.grpc.maxMessageBytes, tls: grpcTls, handler, clientAddress, selfTracer, onError });
        grpcPort = await grpc.start();
      }
      if (cfg.http.enabled) {
        http = createHttpReceiver({
          host: cfg.http.host,
          port: cfg.http.port,
          limits: { maxBodyBytes: cfg.http.maxBodyBytes, maxDecodedBytes: cfg.http.maxDecodedBytes },
          tls: httpTls,
          handler,
          clientAddress,
          selfTracer,
          onError,
        });
        httpPort = await http.start();
      }
      listening = true;
      state = 'running';
      logger.info({ grpcPort, httpPort, telemetryPort, queue: cfg.queue.enabled }, 'trace receiver started');
      return { grpc: grpcPort, http: httpPort, telemetry: telemetryPort };
    },
    async shutdown() {
      if (state === 'stopped' || state === 'stopping') return;
      state = 'stopping';
      const deadline = cfg.shutdownTimeoutMs;
      handlerStop?.();
      // Upstream first: listeners drain their calls, then the forwarder, then the rest.
      await Promise.all([grpc?.shutdown(deadline), http?.shutdown(deadline)]);
      listening = false;
      await forwarder?.shutdown(deadline);
      await queue?.close();
      if (sink !== undefined && 'close' in sink) sink.close();
      if (ownsMetadata) await metadata?.shutdown?.();
      await selfTracer.shutdown().catch((err: unknown) => logger.warn({ err }, 'self-tracing shutdown failed'));
      await telemetry?.shutdown();
      state = 'stopped';
      logger.info('trace receiver stopped');
    },
  };
}

function safeCount(payload: Uint8Array): number {
  try {
    return countRecords(payload, 'traces');
  } catch {
    return 0;
  }
}

export { createTraceReceiver };
export type { TraceReceiver, TraceReceiverOptions, TraceReceiverPorts };
