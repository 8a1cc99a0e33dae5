// OTLP gRPC receiver (:4317). The service is defined with identity (de)serializers, so the
// request reaches the splice as the raw bytes grpc-js read off the wire and is never decoded
// into objects. grpc-js itself handles `grpc-encoding: gzip` and enforces the maximum message
// size (RESOURCE_EXHAUSTED without RetryInfo, i.e. not retryable, per the OTLP spec).
import { Metadata, Server, ServerCredentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { ServerUnaryCall, ServiceDefinition, sendUnaryData } from '@grpc/grpc-js';
import { encodeExportResponse } from '@sextant/pipeline';
import { TraceReceiverError, errorCodes } from './errors.ts';
import type { RequestHandler } from './handle.ts';
import type { ClientAddressResolver } from './peer.ts';
import { addressOfGrpcPeer } from './peer.ts';
import { encodeStatusWithRetryInfo } from './rpc-status.ts';
import type { SelfTracer } from './selftrace.ts';
import { SELF_TRACE_HEADER } from './selftrace.ts';
import type { ServerTlsMaterial } from './tls.ts';

const EXPORT_PATH = '/opentelemetry.proto.collector.trace.v1.TraceService/Export';

const identity = (b: Buffer): Buffer => b;

const traceServiceDefinition: ServiceDefinition = {
  Export: {
    path: EXPORT_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'export',
  },
};

interface GrpcReceiverOptions {
  readonly host: string;
  readonly port: number;
  readonly maxMessageBytes: number;
  readonly tls: ServerTlsMaterial | undefined;
  readonly handler: RequestHandler;
  readonly clientAddress: ClientAddressResolver;
  readonly selfTracer: SelfTracer;
  readonly onError: (err: unknown) => void;
}

interface GrpcReceiver {
  /** Binds and resolves with the bound port. */
  start(): Promise<number>;
  /** tryShutdown (in-flight calls finish), then forceShutdown after deadlineMs. */
  shutdown(deadlineMs: number): Promise<void>;
}

function metadataValue(md: Metadata, key: string): string | undefined {
  const v = md.get(key)[0];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.toString('utf8');
}

function createGrpcReceiver(opts: GrpcReceiverOptions): GrpcReceiver {
  const server = new Server({
    'grpc.max_receive_message_length': opts.maxMessageBytes,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    // channelz bookkeeping costs ~2% CPU per call in the benchmark profile and nothing reads it.
    'grpc.enable_channelz': 0,
  });

  function exportHandler(call: ServerUnaryCall<Buffer, Buffer>, callback: sendUnaryData<Buffer>): void {
    // The peer address is read now, when the request is received (LESSONS.md "Traces").
    const peer = addressOfGrpcPeer(call.getPeer());
    const client = opts.clientAddress.resolve(peer, (name) => metadataValue(call.metadata, name));
    const span = metadataValue(call.metadata, SELF_TRACE_HEADER) === undefined ? opts.selfTracer.startReceive('grpc', call.request.length) : undefined;
    opts.handler.handle(call.request, client, 'grpc').then(
      (r) => {
        span?.end(r.kind === 'ok' ? 'ok' : r.code);
        if (r.kind === 'ok') {
          callback(null, encodeExportResponse('traces', 'protobuf', r.partial));
          return;
        }
        const grpcCode = errorCodes[r.code].grpcCode;
        const trailers = new Metadata();
        if (r.retryAfterMs !== undefined && (grpcCode === (GrpcStatus.RESOURCE_EXHAUSTED as number) || grpcCode === (GrpcStatus.UNAVAILABLE as number))) {
          trailers.set('grpc-status-details-bin', encodeStatusWithRetryInfo(grpcCode, r.message, r.retryAfterMs));
        }
        callback({ code: grpcCode, details: r.message, metadata: trailers });
      },
      (err: unknown) => {
        span?.end('internal');
        opts.onError(err);
        callback({ code: GrpcStatus.INTERNAL, details: `internal error: ${err instanceof Error ? err.message : String(err)}` });
      },
    );
  }

  server.addService(traceServiceDefinition, { Export: exportHandler });

  return {
    start() {
      const creds =
        opts.tls === undefined
          ? ServerCredentials.createInsecure()
          : ServerCredentials.createSsl(opts.tls.clientCa ?? null, [{ private_key: opts.tls.key, cert_chain: opts.tls.cert }], opts.tls.clientCa !== undefined);
      return new Promise((resolve, reject) => {
        server.bindAsync(`${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${opts.port}`, creds, (err, port) => {
          if (err !== null) reject(new TraceReceiverError('SEXTANT_TRACES_LISTEN', `gRPC receiver could not bind ${opts.host}:${opts.port}: ${err.message}`, { cause: err }));
          else resolve(port);
        });
      });
    },
    shutdown(deadlineMs) {
      return new Promise((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, deadlineMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    },
  };
}

export { EXPORT_PATH, createGrpcReceiver, traceServiceDefinition };
export type { GrpcReceiver, GrpcReceiverOptions };
