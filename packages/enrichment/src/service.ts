// The enrichment service: OTLP/HTTP in (fastify), pod metadata through the resource splice,
// a durable enqueue before the 200, and an export loop from the queue to the backend.
// see issue 5 and ARCHITECTURE.md "Delivery contract".
import type { Server as TlsServer } from 'node:tls';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  createOtlpBodyParser,
  encodeRpcStatus,
  ingestRejection,
  rejectionResponse,
  responseFormatOf,
  successResponse,
} from '@sextant/pipeline';
import type { IngestResponse, Logger, OtlpBodyResult, OtlpFormat, Queue } from '@sextant/pipeline';
import { createCoalescer } from './coalesce.ts';
import type { Coalescer } from './coalesce.ts';
import { enrichRequest, readFramedLogs } from './enrich.ts';
import type { PodMetadata, Splice, SpliceSignal } from './enrich.ts';
import { EnrichmentError } from './errors.ts';
import { loadListenTls } from './listen-tls.ts';
import type { ListenTls, ListenTlsFiles } from './listen-tls.ts';
import { createEnrichmentMetrics } from './metrics.ts';
import type { EnrichmentMetrics, MetadataGaugeSource } from './metrics.ts';

/** The metadata side as the service drives it. */
interface MetadataComponent<P> extends PodMetadata<P> {
  start(): void;
  /** True once the initial LIST of every kind is in the cache. */
  synced(): boolean;
  stats(): MetadataGaugeSource;
  shutdown(): Promise<void>;
}

/** The exporting side: drains the queue to the backend until stopped. */
interface ExportComponent {
  start(): void;
  shutdown(): Promise<void>;
}

/** Everything the HTTP side needs, assembled by the service factory. */
interface ServiceParts<P> {
  listen: { host: string; port: number };
  /** HTTPS on the listener; with clientCaFile, mTLS for the OTLP routes (see listen-tls.ts). */
  tls?: ListenTlsFiles | undefined;
  limits: { maxBodyBytes: number; maxDecodedBytes: number };
  waitForPodMs: number;
  /**
   * Requests arriving while an enqueue is in flight share one queue item up to these bounds.
   * bySource (export.order: source): only requests of one source share an item, and the item
   * carries that source, so the export loop keeps each source's items in order.
   */
  coalesce: { maxBytes: number; maxItems: number; bySource?: boolean };
  /** How long shutdown() lets in-flight requests finish before closing sockets. */
  shutdownGraceMs: number;
  logger: Logger;
  splice: Splice;
  /** JSON request text → protobuf bytes; throws on a malformed request. */
  jsonToProtobuf: (signal: SpliceSignal, body: Uint8Array) => Uint8Array;
  /** Records (log records / data points) in a protobuf request, without decoding them. */
  countRecords: (signal: SpliceSignal, body: Uint8Array, resourceIndexes?: readonly number[]) => number;
  isDecodeError: (err: unknown) => boolean;
  openQueue: () => Promise<Queue>;
  metadata: MetadataComponent<P>;
  createExporter: (queue: Queue, metrics: EnrichmentMetrics) => ExportComponent;
  /** Called once with the metrics, e.g. so the metadata cache's miss callback can count. */
  onMetrics?: (metrics: EnrichmentMetrics) => void;
}

interface EnrichmentService {
  /** Opens the queue, starts exporting and watching, and listens. Resolves once listening. */
  start(): Promise<void>;
  /** Stops accepting, finishes requests in flight, stops the export loop, closes the queue. */
  shutdown(): Promise<void>;
  /** The bound address once started (port 0 in the config picks a free port). */
  address(): { host: string; port: number } | undefined;
  /** Ready: metadata synced and queue open (what /readyz answers). */
  ready(): boolean;
  /** The Prometheus text /metrics serves. */
  metricsText(): Promise<string>;
}

const GRPC_UNAUTHENTICATED = 16;

const ZSTD_FRAMES_HEADER = 'sextant-zstd-frames';

function send(reply: FastifyReply, res: IngestResponse): FastifyReply {
  return reply.code(res.statusCode).headers(res.headers).send(res.body);
}

function createServiceFromParts<P>(parts: ServiceParts<P>): EnrichmentService {
  let queue: Queue | undefined;
  let coalescer: Coalescer | undefined;
  let exporter: ExportComponent | undefined;
  let app: FastifyInstance | undefined;
  let listenTls: ListenTls | undefined;
  let state: 'new' | 'starting' | 'running' | 'stopping' | 'stopped' = 'new';
  const metrics = createEnrichmentMetrics(() => (state === 'new' ? undefined : parts.metadata.stats()));
  parts.onMetrics?.(metrics);
  const log = parts.logger;

  async function handleExport(signal: SpliceSignal, request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    const body = request.body as OtlpBodyResult | undefined;
    const answer = (_format: OtlpFormat, res: IngestResponse): FastifyReply => {
      metrics.requests.inc({ signal, code: String(res.statusCode) });
      // tells the node collector that this service reads every frame of a zstd body (it sends one
      // frame until an endpoint has said so; see packages/node-collector/src/exporter.ts)
      if (res.statusCode === 200) reply.header(ZSTD_FRAMES_HEADER, '1');
      return send(reply, res);
    };
    if (body === undefined) {
      return answer(responseFormatOf(request.headers), rejectionResponse(ingestRejection('SEXTANT_INGEST_MALFORMED', 'request has no body'), responseFormatOf(request.headers)));
    }
    if (body.kind === 'rejected') {
      const format = responseFormatOf(request.headers);
      return answer(format, rejectionResponse(body, format));
    }
    const format = body.format;
    metrics.receivedBytes.inc({ signal }, body.wireBytes);
    metrics.receivedDecodedBytes.inc({ signal }, body.decodedBytes);
    const q = coalescer;
    if (state !== 'running' || q === undefined) {
      return answer(format, rejectionResponse(ingestRejection('SEXTANT_INGEST_UNAVAILABLE', 'the service is shutting down', { retryAfterMs: 1000 }), format));
    }

    let protobuf: Uint8Array | undefined;
    let outcome: Awaited<ReturnType<typeof enrichRequest>> | undefined;
    let records: number;
    // One walk over the request; the subsets are walked again only when they are not all of it
    // (the node collector sends one resource per request, so they are). A request read frame by
    // frame has its counts per resource already.
    const count = (indexes?: readonly number[]): number => {
      const perResource = outcome?.recordsPerResource;
      if (perResource === undefined) return parts.countRecords(signal, protobuf as Uint8Array, indexes);
      let n = 0;
      for (const i of indexes ?? perResource.keys()) n += perResource[i] ?? 0;
      return n;
    };
    try {
      // zstd and gzip bodies framed per resource by our node collector are read frame by frame and
      // keep their records compressed (enrich.ts readFramedLogs, compressedSpliceParts); body.body,
      // the joined request, is not even built for them.
      const framed = format === 'protobuf' && signal === 'logs' && body.frames !== undefined && body.encoding !== 'identity' ? readFramedLogs(body.frames, body.encoding, parts.splice) : undefined;
      if (framed === undefined) protobuf = format === 'json' ? parts.jsonToProtobuf(signal, body.body) : body.body;
      outcome = await enrichRequest(framed ?? (protobuf as Uint8Array), signal, parts.splice, parts.metadata, parts.waitForPodMs);
      // also checks the structure down to the records (a malformed scope is a 400 here, not at the backend)
      records = count();
      // The decoded frames were only checked and counted (the queue gets H' and the wire R):
      // their ~0.5 MB per request is freed now rather than at the next GC.
      if (framed !== undefined) body.release?.();
    } catch (err) {
      if (!parts.isDecodeError(err)) throw err;
      const message = `malformed OTLP ${format} ${signal} request: ${(err as Error).message}`;
      return answer(format, rejectionResponse(ingestRejection('SEXTANT_INGEST_MALFORMED', message), format));
    }
    metrics.receivedResources.inc({ signal }, outcome.resources);
    metrics.receivedRecords.inc({ signal }, records);
    if (outcome.enriched > 0) {
      metrics.enrichedResources.inc({ signal }, outcome.enriched);
      metrics.enrichedRecords.inc({ signal }, outcome.enriched === outcome.resources ? records : count(outcome.enrichedIndexes));
    }
    // Lookups that ran are counted by the cache itself (onMiss); resources without a key never reach it.
    for (const miss of outcome.misses) if (miss.reason === 'no_key') metrics.misses.inc({ reason: 'no_key' });
    let storedRecords = records;
    if (outcome.droppedIndexes.length > 0) {
      const droppedRecords = count(outcome.droppedIndexes);
      storedRecords -= droppedRecords;
      metrics.excludedResources.inc({ signal }, outcome.droppedIndexes.length);
      metrics.dropped.inc({ reason: 'excluded' }, droppedRecords);
    }
    if (outcome.payload === undefined || outcome.resources === 0) return answer(format, successResponse(signal, format));

    const endTimer = metrics.enqueueSeconds.startTimer();
    let result;
    try {
      // The record count travels with the queue item, so the export side need not walk the bytes again.
      const source = parts.coalesce.bySource === true ? (outcome.source ?? request.raw.socket.remoteAddress ?? '') : undefined;
      result = await q.enqueue(signal, outcome.payload, outcome.payloadBytes, storedRecords, source, outcome.encoding);
    } catch (err) {
      log.error({ err, signal }, 'enqueue failed');
      const message = `the durable queue could not store the batch: ${(err as Error).message}`;
      return answer(format, rejectionResponse(ingestRejection('SEXTANT_INGEST_UNAVAILABLE', message, { retryAfterMs: 1000 }), format));
    }
    endTimer();
    if (result.kind === 'full') {
      const message = `the durable queue is full; retry after ${result.retryAfterMs} ms`;
      return answer(format, rejectionResponse(ingestRejection('SEXTANT_INGEST_QUEUE_FULL', message, { retryAfterMs: result.retryAfterMs }), format));
    }
    return answer(format, successResponse(signal, format));
  }

  let lastRefusalLog = 0;
  let refusedSinceLog = 0;
  // 401 + OTLP Status (gRPC UNAUTHENTICATED) for a connection without a trusted client certificate;
  // the connection is closed, since its certificate cannot change (the client reconnects with a new one).
  function refuseUnauthenticated(tls: ListenTls, request: FastifyRequest, reply: FastifyReply): FastifyReply | undefined {
    const why = tls.refusal(request.raw.socket);
    if (why === undefined) return undefined;
    const signal: SpliceSignal = request.url.startsWith('/v1/metrics') ? 'metrics' : 'logs';
    metrics.requests.inc({ signal, code: '401' });
    // At most one line per 10 s (with the count since the last): any peer can provoke refusals, and
    // requests_total{code="401"} counts every one.
    refusedSinceLog++;
    const now = Date.now();
    if (now - lastRefusalLog >= 10_000) {
      log.warn({ peer: request.raw.socket.remoteAddress, url: request.url, reason: why, refused: refusedSinceLog }, 'OTLP request refused: client certificate');
      lastRefusalLog = now;
      refusedSinceLog = 0;
    }
    const format = responseFormatOf(request.headers);
    const message = new EnrichmentError('SEXTANT_ENRICHMENT_UNAUTHENTICATED', why).message;
    return send(reply, { statusCode: 401, headers: { 'content-type': format === 'json' ? 'application/json' : 'application/x-protobuf', connection: 'close' }, body: encodeRpcStatus(GRPC_UNAUTHENTICATED, message, format) });
  }

  function buildApp(tls: ListenTls | undefined): FastifyInstance {
    const options = {
      logger: false,
      // Connections idle at close are closed at once; busy ones finish their request.
      forceCloseConnections: 'idle',
      return503OnClosing: true,
      keepAliveTimeout: 65_000,
      requestTimeout: 120_000,
    } as const;
    // The HTTPS instance differs from the HTTP one only in its server type; routes and hooks are the same.
    const server = tls === undefined ? Fastify(options) : (Fastify({ ...options, https: tls.serverOptions() }) as unknown as FastifyInstance);
    server.get('/healthz', async (_req, reply) => reply.code(200).type('text/plain').send('ok\n'));
    server.get('/readyz', async (_req, reply) => {
      const ready = service.ready();
      return reply.code(ready ? 200 : 503).type('text/plain').send(ready ? 'ready\n' : 'not ready\n');
    });
    server.get('/metrics', async (_req, reply) => reply.type(metrics.base.contentType).send(await metrics.base.text()));
    const parser = createOtlpBodyParser(parts.limits);
    void server.register((otlp, _opts, done) => {
      otlp.removeAllContentTypeParsers();
      otlp.addContentTypeParser('*', parser);
      // Before the body is read: an unauthenticated client's body is never parsed.
      if (tls?.mutual === true) otlp.addHook('onRequest', async (req, reply) => refuseUnauthenticated(tls, req, reply));
      otlp.post('/v1/logs', (req, reply) => handleExport('logs', req, reply));
      otlp.post('/v1/metrics', (req, reply) => handleExport('metrics', req, reply));
      done();
    });
    server.setErrorHandler((err, request, reply) => {
      log.error({ err, url: request.url }, 'request failed');
      const format = responseFormatOf(request.headers);
      const e = err as { statusCode?: number; message?: string };
      const status = e.statusCode ?? 500;
      return send(reply, { ...rejectionResponse(ingestRejection('SEXTANT_INGEST_UNAVAILABLE', e.message ?? 'internal error', { retryAfterMs: 1000 }), format), statusCode: status >= 400 ? status : 500 });
    });
    return server;
  }

  const service: EnrichmentService = {
    async start() {
      if (state !== 'new') throw new EnrichmentError('SEXTANT_ENRICHMENT_STATE', `start() called in state ${state}; a service starts once`);
      state = 'starting';
      if (parts.tls !== undefined) {
        try {
          listenTls = await loadListenTls(parts.tls, log);
        } catch (err) {
          state = 'stopped';
          throw new EnrichmentError('SEXTANT_ENRICHMENT_TLS', `listen.tls files cannot be read (certFile ${parts.tls.certFile}, keyFile ${parts.tls.keyFile}, clientCaFile ${parts.tls.clientCaFile ?? '-'}): ${(err as Error).message}`, { cause: err });
        }
      }
      // Downstream first: the queue and the export loop, then the watch, then the listener.
      queue = await parts.openQueue();
      metrics.watchQueue(queue);
      coalescer = createCoalescer(queue, parts.coalesce);
      exporter = parts.createExporter(queue, metrics);
      exporter.start();
      parts.metadata.start();
      app = buildApp(listenTls);
      try {
        await app.listen({ host: parts.listen.host, port: parts.listen.port });
        listenTls?.watch(app.server as unknown as TlsServer);
      } catch (err) {
        state = 'running';
        await service.shutdown();
        throw new EnrichmentError('SEXTANT_ENRICHMENT_LISTEN', `cannot listen on ${parts.listen.host}:${parts.listen.port}: ${(err as Error).message}`, { cause: err });
      }
      state = 'running';
      const addr = service.address();
      log.info({ address: addr, tls: listenTls !== undefined, mtls: listenTls?.mutual === true }, 'enrichment service listening');
    },
    async shutdown() {
      if (state === 'stopped' || state === 'stopping') return;
      state = 'stopping';
      listenTls?.stop();
      // Upstream first: stop accepting and let requests in flight reach the queue.
      if (app !== undefined) {
        const closing = app.close();
        const timer = setTimeout(() => app?.server.closeAllConnections(), parts.shutdownGraceMs);
        timer.unref();
        await closing;
        clearTimeout(timer);
      }
      await exporter?.shutdown();
      await queue?.close();
      await parts.metadata.shutdown();
      state = 'stopped';
      log.info('enrichment service stopped');
    },
    address() {
      const addr = app?.server.address();
      if (addr === null || addr === undefined || typeof addr === 'string') return undefined;
      return { host: addr.address, port: addr.port };
    },
    ready() {
      return state === 'running' && queue !== undefined && parts.metadata.synced();
    },
    metricsText() {
      return metrics.base.text();
    },
  };
  return service;
}

export { createServiceFromParts };
export type { EnrichmentService, ExportComponent, MetadataComponent, ServiceParts };
