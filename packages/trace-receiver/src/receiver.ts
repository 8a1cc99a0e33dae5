// createTraceReceiver: wires the receivers (:4317, :4318), the metadata cache, the forwarder
// (direct, or durable queue + pipeline's export loop), the shared exporter and the telemetry
// listener (:8888). Start order is downstream first (exporter, queue, metadata, then the
// listeners); shutdown stops upstream first (listeners drain, then exports, then the rest).
import { createMetadataCache } from '@sextant/kube-metadata';
import type { MetadataCacheOptions, MetadataSource } from '@sextant/kube-metadata';
import { countRecords } from '@sextant/otlp';
import { createDiskQueue, createExportLoop, createFileExporter, createLogger, createOtlpGrpcExporter, createOtlpHttpExporter, createRetryPolicy, registerQueueMetrics } from '@sextant/pipeline';
import type { Exporter, Logger, Queue } from '@sextant/pipeline';
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
import { loadServerTls } from './tls.ts';

type OwnedMetadata = PodMetadata & { start?(): Promise<void>; shutdown?(): Promise<void> };

interface TraceReceiverOptions {
  /** Use this metadata cache instead of building one from `config.kube` (it is not started or stopped here). */
  readonly metadata?: PodMetadata;
  /** Use this exporter instead of building one from `config.exporter` (it is shut down with the receiver). */
  readonly exporter?: Exporter;
  readonly logger?: Logger;
}

/** Ports actually bound (useful with port 0). */
interface TraceReceiverPorts {
  readonly grpc: number | undefined;
  readonly http: number | undefined;
  readonly telemetry: number;
}

interface TraceReceiver {
  readonly name: string;
  /** Binds the listeners and starts exporting; the metadata sync goes on in the background (/readyz). */
  start(): Promise<TraceReceiverPorts>;
  /** Stops accepting, drains in-flight requests and exports (bounded by shutdownTimeoutMs), closes everything. */
  shutdown(): Promise<void>;
  /** True once listening and the metadata cache has synced (what /readyz answers). */
  ready(): boolean;
  readonly config: TraceReceiverConfig;
}

function exporterFor(cfg: TraceReceiverConfig, logger: Logger): Exporter {
  const e = cfg.exporter;
  const tls = {
    caFile: e.tls.caFile,
    certFile: e.tls.certFile,
    keyFile: e.tls.keyFile,
    serverName: e.tls.serverName,
    insecureSkipVerify: e.tls.insecureSkipVerify,
  };
  // crossCheck (config.ts) guarantees endpoint for the network types and file.path for file.
  if (e.type === 'file') return createFileExporter({ path: e.file.path ?? '', maxBytes: e.file.maxBytes, maxFiles: e.file.maxFiles });
  if (e.type === 'otlp_grpc') {
    return createOtlpGrpcExporter({ endpoint: e.endpoint ?? '', insecure: e.insecure, headers: e.headers, compression: e.compression, timeoutMs: e.timeoutMs, tls, logger });
  }
  return createOtlpHttpExporter({ endpoint: e.endpoint ?? '', headers: e.headers, compression: e.compression, timeoutMs: e.timeoutMs, tls, logger });
}

function metadataSourceOf(cfg: TraceReceiverConfig): MetadataSource {
  const k = cfg.kube;
  if (k.source === 'in-cluster') return { kind: 'in-cluster' };
  const path = k.path ?? '';
  if (k.source === 'kubeconfig') return k.context === undefined ? { kind: 'kubeconfig', path } : { kind: 'kubeconfig', path, context: k.context };
  return { kind: 'file', path, watch: k.watch };
}

function safeCount(payload: Uint8Array): number {
  try {
    return countRecords(payload, 'traces');
  } catch {
    return 0;
  }
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
  let metadata: OwnedMetadata | undefined = options.metadata;
  let ownsMetadata = false;
  let exporter: Exporter | undefined;
  let queue: Queue | undefined;
  let forwarder: Forwarder | undefined;
  let selfTracer: SelfTracer = noopSelfTracer;
  let grpc: GrpcReceiver | undefined;
  let http: HttpReceiver | undefined;
  let telemetry: TelemetryServer | undefined;
  let stopAccepting: (() => void) | undefined;

  const metrics = createReceiverMetrics(() => {
    const f = forwarder;
    if (f === undefined) return undefined;
    return { pendingBytes: () => f.stats().pendingBytes, exportsInFlight: () => f.stats().exportsInFlight, exported: () => f.stats().exported, metadataSynced: () => metadata?.synced };
  });

  const readiness = (): { ready: boolean; reason: string } => {
    if (state !== 'running') return { ready: false, reason: `receiver is ${state}` };
    if (metadata !== undefined && !metadata.synced) return { ready: false, reason: 'Kubernetes metadata has not synced yet' };
    return { ready: true, reason: '' };
  };

  async function startAll(): Promise<TraceReceiverPorts> {
    telemetry = createTelemetryServer({ host: cfg.telemetry.host, port: cfg.telemetry.port, metrics: metrics.metrics, live: () => state !== 'stopped', ready: readiness });
    const telemetryPort = await telemetry.start();
    selfTracer = await startSelfTracing({ enabled: cfg.selfTracing.enabled, endpoint: cfg.selfTracing.endpoint ?? '', serviceName: cfg.selfTracing.serviceName });
    const exp = options.exporter ?? exporterFor(cfg, logger);
    exporter = exp;
    // The export path never produces self-traces (no loop; see selftrace.ts).
    const tracer = selfTracer;
    const untraced: Exporter = { name: exp.name, export: (item) => tracer.untraced(() => exp.export(item)), shutdown: () => exp.shutdown() };
    if (cfg.queue.enabled) {
      queue = await createDiskQueue({ dir: cfg.queue.dir, maxBytes: cfg.queue.maxBytes, fullRetryAfterMs: cfg.export.retryAfterMs, logger });
      registerQueueMetrics(metrics.metrics, queue);
      const loop = createExportLoop({
        queue,
        exporter: {
          ...untraced,
          async export(item) {
            const r = await untraced.export(item);
            if (r.kind === 'failure') metrics.droppedSpans.inc({ reason: 'backend_rejected' }, safeCount(item.payload));
            return r;
          },
        },
        retry: createRetryPolicy({ initialMs: cfg.export.retryInitialMs, maxMs: cfg.export.retryMaxMs }),
        concurrency: cfg.queue.exportConcurrency,
        logger,
        metrics: metrics.metrics,
        name: 'traces-export',
      });
      forwarder = createQueueForwarder({ queue, loop, retryAfterMs: cfg.export.retryAfterMs });
    } else {
      const sink: SpanSink = { export: (payload) => untraced.export({ signal: 'traces', payload }) };
      forwarder = createDirectForwarder({
        sink,
        maxPendingBytes: cfg.export.maxPendingBytes,
        concurrency: cfg.export.concurrency,
        maxBatchBytes: cfg.export.maxBatchBytes,
        retryAfterMs: cfg.export.retryAfterMs,
      });
    }
    forwarder.start();
    if (metadata === undefined && cfg.kube.enabled) {
      const opts: MetadataCacheOptions = {
        source: metadataSourceOf(cfg),
        ...(cfg.kube.clusterName === undefined ? {} : { clusterName: cfg.kube.clusterName }),
        useWellKnownLabels: cfg.kube.useWellKnownLabels,
        rules: cfg.kube.rules.map((r) => ({
          from: r.from,
          source: r.source,
          ...(r.key === undefined ? {} : { key: r.key }),
          ...(r.keyRegex === undefined ? {} : { keyRegex: r.keyRegex }),
          ...(r.tagName === undefined ? {} : { tagName: r.tagName }),
        })),
        exclude: { annotation: cfg.kube.excludeAnnotation, value: cfg.kube.excludeValue },
        waitForPodMs: cfg.association.waitForPodMs,
        onError: (err) => logger.warn({ err }, 'Kubernetes metadata error (retrying)'),
      };
      const cache = createMetadataCache(opts);
      metadata = cache;
      ownsMetadata = true;
      await cache.start();
    }
    const handler = createRequestHandler({
      enricher: createEnricher(metadata, { waitForPodMs: cfg.association.waitForPodMs }),
      forwarder,
      metrics,
      retryAfterMs: cfg.export.retryAfterMs,
    });
    stopAccepting = () => handler.stopAccepting();
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
    state = 'running';
    logger.info({ grpcPort, httpPort, telemetryPort, queue: cfg.queue.enabled }, 'trace receiver started');
    return { grpc: grpcPort, http: httpPort, telemetry: telemetryPort };
  }

  const receiver: TraceReceiver = {
    name: 'trace-receiver',
    config: cfg,
    ready: () => readiness().ready,
    async start() {
      if (state !== 'new') throw new TraceReceiverError('SEXTANT_TRACES_STATE', `start() called while the receiver is ${state}; create a new receiver`);
      state = 'starting';
      try {
        return await startAll();
      } catch (err) {
        // Leave nothing listening or running behind a failed start.
        state = 'running';
        await receiver.shutdown().catch(() => {});
        throw err;
      }
    },

    async shutdown() {
      if (state === 'stopped' || state === 'stopping') return;
      state = 'stopping';
      const deadline = cfg.shutdownTimeoutMs;
      stopAccepting?.();
      // Upstream first: listeners drain their calls, then the forwarder, then the rest. Every
      // step runs even when an earlier one failed, so no socket or timer is left behind.
      const errors: unknown[] = [];
      const step = async (f: () => Promise<unknown> | undefined): Promise<void> => {
        try {
          await f();
        } catch (err) {
          errors.push(err);
        }
      };
      // The forwarder answers what is still pending a little before the listeners force-close,
      // so clients get a retryable status instead of a reset connection.
      await step(() => Promise.all([grpc?.shutdown(deadline), http?.shutdown(deadline), forwarder?.shutdown(Math.max(deadline - 1000, Math.floor(deadline / 2)))]));
      await step(() => queue?.close());
      await step(() => exporter?.shutdown());
      if (ownsMetadata) await step(() => metadata?.shutdown?.());
      await step(() => selfTracer.shutdown());
      await step(() => telemetry?.shutdown());
      state = 'stopped';
      if (errors.length > 0) {
        logger.error({ err: errors[0] }, 'trace receiver shutdown had errors');
        throw errors[0];
      }
      logger.info('trace receiver stopped');
    },
  };
  return receiver;
}

export { createTraceReceiver };
export type { TraceReceiver, TraceReceiverOptions, TraceReceiverPorts };
