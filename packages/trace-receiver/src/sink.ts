// The backend exporter behind the forwarder.
// STOPGAP: @sextant/pipeline's shared OTLP exporters (gRPC/HTTP, TLS, retry) had not landed
// when this was written; this minimal raw-bytes exporter has the same result shape and is
// replaced by the shared one as soon as pipeline exports it (see README.md "Status").
import { readFileSync } from 'node:fs';
import { Client, Metadata, credentials, status as GrpcStatus } from '@grpc/grpc-js';
import type { ServiceError } from '@grpc/grpc-js';
import { gzipSync } from 'node:zlib';
import type { TraceReceiverConfig } from './config.ts';
import { TraceReceiverError } from './errors.ts';
import type { ExportResult, SpanSink } from './forward.ts';
import { EXPORT_PATH } from './grpc.ts';

interface ClosableSink extends SpanSink {
  close(): void;
}

const RETRYABLE_GRPC = new Set<number>([
  GrpcStatus.CANCELLED,
  GrpcStatus.DEADLINE_EXCEEDED,
  GrpcStatus.ABORTED,
  GrpcStatus.OUT_OF_RANGE,
  GrpcStatus.UNAVAILABLE,
  GrpcStatus.DATA_LOSS,
  GrpcStatus.RESOURCE_EXHAUSTED,
]);

function read(path: string | undefined, key: string): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TraceReceiverError('SEXTANT_TRACES_TLS_FILE', `${key} ${JSON.stringify(path)} cannot be read: ${(err as Error).message}`, { cause: err });
  }
}

function createGrpcSink(cfg: TraceReceiverConfig['exporter']): ClosableSink {
  const url = new URL(cfg.endpoint);
  const insecure = cfg.tls.insecure ?? url.protocol === 'http:';
  const creds = insecure
    ? credentials.createInsecure()
    : credentials.createSsl(read(cfg.tls.caFile, 'exporter.tls.caFile') ?? null, read(cfg.tls.keyFile, 'exporter.tls.keyFile') ?? null, read(cfg.tls.certFile, 'exporter.tls.certFile') ?? null);
  const client = new Client(url.host, creds, {
    'grpc.default_compression_algorithm': cfg.compression === 'gzip' ? 2 : 0,
    'grpc.max_send_message_length': -1,
  });
  const identity = (b: Buffer): Buffer => b;
  return {
    export(payload, signal) {
      return new Promise<ExportResult>((resolve) => {
        const md = new Metadata();
        for (const [k, v] of Object.entries(cfg.headers)) md.set(k.toLowerCase(), v);
        const call = client.makeUnaryRequest<Buffer, Buffer>(
          EXPORT_PATH,
          identity,
          identity,
          Buffer.isBuffer(payload) ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
          md,
          { deadline: Date.now() + cfg.timeoutMs },
          (err: ServiceError | null) => {
            signal?.removeEventListener('abort', onAbort);
            if (err === null) resolve({ kind: 'ok' });
            else if (RETRYABLE_GRPC.has(err.code)) resolve({ kind: 'retryable', error: err });
            else resolve({ kind: 'failure', error: err });
          },
        );
        const onAbort = (): void => call.cancel();
        signal?.addEventListener('abort', onAbort, { once: true });
      });
    },
    close() {
      client.close();
    },
  };
}

function createHttpSink(cfg: TraceReceiverConfig['exporter']): ClosableSink {
  const base = cfg.endpoint.replace(/\/+$/, '');
  const url = base.endsWith('/v1/traces') ? base : `${base}/v1/traces`;
  return {
    async export(payload, signal) {
      const body = cfg.compression === 'gzip' ? gzipSync(payload) : payload;
      const headers: Record<string, string> = { ...cfg.headers, 'content-type': 'application/x-protobuf' };
      if (cfg.compression === 'gzip') headers['content-encoding'] = 'gzip';
      const timeout = AbortSignal.timeout(cfg.timeoutMs);
      try {
        const res = await fetch(url, { method: 'POST', body, headers, signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]) });
        await res.arrayBuffer();
        if (res.ok) return { kind: 'ok' };
        const error = new Error(`backend answered HTTP ${res.status}`);
        if (res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504) {
          const ra = Number(res.headers.get('retry-after'));
          return Number.isFinite(ra) && ra > 0 ? { kind: 'retryable', retryAfterMs: ra * 1000, error } : { kind: 'retryable', error };
        }
        return { kind: 'failure', error };
      } catch (err) {
        return { kind: 'retryable', error: err instanceof Error ? err : new Error(String(err)) };
      }
    },
    close() {},
  };
}

function createSink(cfg: TraceReceiverConfig['exporter']): ClosableSink {
  return cfg.protocol === 'grpc' ? createGrpcSink(cfg) : createHttpSink(cfg);
}

export { createSink };
export type { ClosableSink };
