// OTLP/HTTP receiver (:4318): POST /v1/traces, protobuf and JSON. Body reading, content types,
// gzip/zstd and the size limits are the shared ingest helpers of @sextant/pipeline, so this
// endpoint refuses exactly like the enrichment ingest (400/413/415, 429/503 + Retry-After,
// google.rpc.Status bodies).
import { decodeTraceRequestJson, encodeTraceRequest, OtlpDecodeError } from '@sextant/otlp';
import { contentTypeOf, createOtlpBodyParser, encodeRpcStatus, rejectionResponse, responseFormatOf, successResponse } from '@sextant/pipeline';
import type { IngestLimits, OtlpBodyResult, OtlpFormat } from '@sextant/pipeline';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { TraceReceiverError, errorCodes } from './errors.ts';
import type { HandleResult, RequestHandler } from './handle.ts';
import type { ClientAddressResolver } from './peer.ts';
import { normalizeAddress } from './peer.ts';
import type { SelfTracer } from './selftrace.ts';
import { SELF_TRACE_HEADER } from './selftrace.ts';
import type { ServerTlsMaterial } from './tls.ts';

interface HttpReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly limits: IngestLimits;
  readonly tls: ServerTlsMaterial | undefined;
  readonly handler: RequestHandler;
  readonly clientAddress: ClientAddressResolver;
  readonly selfTracer: SelfTracer;
  readonly onError: (err: unknown) => void;
}

interface HttpReceiver {
  start(): Promise<number>;
  /** Stops accepting connections and waits (up to deadlineMs) for requests in progress. */
  shutdown(deadlineMs: number): Promise<void>;
}

function send(reply: FastifyReply, r: { statusCode: number; headers: Record<string, string>; body: Buffer }): FastifyReply {
  return reply.code(r.statusCode).headers(r.headers).send(r.body);
}

function answer(reply: FastifyReply, r: HandleResult, format: OtlpFormat): FastifyReply {
  if (r.kind === 'ok') return send(reply, successResponse('traces', format, r.partial));
  const spec = errorCodes[r.code];
  const headers: Record<string, string> = { 'content-type': contentTypeOf(format) };
  if (r.retryAfterMs !== undefined) headers['retry-after'] = String(Math.max(1, Math.ceil(r.retryAfterMs / 1000)));
  return send(reply, { statusCode: spec.status, headers, body: encodeRpcStatus(spec.grpcCode, r.message, format) });
}

function createHttpReceiver(opts: HttpReceiverOptions): HttpReceiver {
  const https = opts.tls === undefined ? null : { key: opts.tls.key, cert: opts.tls.cert, ...(opts.tls.clientCa === undefined ? {} : { ca: opts.tls.clientCa, requestCert: true, rejectUnauthorized: true }) };
  const app: FastifyInstance = (https === null ? Fastify({ logger: false }) : Fastify({ logger: false, https })) as FastifyInstance;

  void app.register((scope, _o, done) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', createOtlpBodyParser(opts.limits));
    scope.post('/v1/traces', async (request, reply) => {
      // The peer address is read now, when the request is received (LESSONS.md "Traces").
      const remote = request.raw.socket.remoteAddress;
      const peer = remote === undefined ? undefined : normalizeAddress(remote);
      const client = opts.clientAddress.resolve(peer, (name) => {
        const v = request.headers[name];
        return Array.isArray(v) ? v.join(',') : v;
      });
      const format = responseFormatOf(request.headers);
      const body = request.body as OtlpBodyResult;
      if (body.kind === 'rejected') return send(reply, rejectionResponse(body, format));
      let bytes: Uint8Array = body.body;
      if (body.format === 'json') {
        try {
          bytes = encodeTraceRequest(decodeTraceRequestJson(body.body));
        } catch (err) {
          if (!(err instanceof OtlpDecodeError)) throw err;
          return answer(reply, { kind: 'rejected', code: 'SEXTANT_TRACES_MALFORMED', message: `the OTLP/JSON body is not a valid ExportTraceServiceRequest: ${err.message}` }, format);
        }
      }
      const span = request.headers[SELF_TRACE_HEADER] === undefined ? opts.selfTracer.startReceive('http', body.wireBytes) : undefined;
      const r = await opts.handler.handle(bytes, client, 'http');
      span?.end(r.kind === 'ok' ? 'ok' : r.code);
      return answer(reply, r, format);
    });
    done();
  });
  app.setErrorHandler((err, request, reply) => {
    opts.onError(err);
    const format = responseFormatOf(request.headers);
    void reply
      .code(500)
      .header('content-type', contentTypeOf(format))
      .send(encodeRpcStatus(13, `internal error: ${err instanceof Error ? err.message : String(err)}`, format));
  });

  return {
    async start() {
      try {
        await app.listen({ host: opts.host, port: opts.port });
      } catch (err) {
        throw new TraceReceiverError('SEXTANT_TRACES_LISTEN', `OTLP/HTTP receiver could not bind ${opts.host}:${opts.port}: ${(err as Error).message}`, { cause: err });
      }
      const addr = app.server.address();
      return typeof addr === 'object' && addr !== null ? addr.port : opts.port;
    },
    async shutdown(deadlineMs) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        app.close(),
        new Promise<void>((resolve) => {
          timer = setTimeout(() => {
            app.server.closeAllConnections();
            resolve();
          }, deadlineMs);
        }),
      ]);
      clearTimeout(timer);
    },
  };
}

export { createHttpReceiver };
export type { HttpReceiver, HttpReceiverOptions };
