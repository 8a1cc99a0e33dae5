// OTLP/HTTP exporter: POST <endpoint>/v1/<signal>, application/x-protobuf.
// Retryable per the OTLP spec ("Failures" under OTLP/HTTP): 429, 502, 503, 504 (Retry-After honoured);
// other statuses are permanent; network errors are retryable. A 2xx partial success is logged (warn).
import { headerReader } from './secrets.ts';
import { partialSuccess } from './proto.ts';
import { tlsReader } from './tls.ts';
import { inflateStored } from './ingest/zstd-frames.ts';
import { compress, createHttpClient, networkError, parseRetryAfter, retryable, statusError } from './exporter.ts';
import type { Compression, ExportResult, Exporter } from './exporter.ts';
import type { SecretSource } from './config.ts';
import type { TlsOptions } from './tls.ts';
import type { Logger } from './logger.ts';

export interface OtlpHttpExporterOptions {
  /** Base URL, e.g. `https://otel-gateway:4318`; `/v1/logs` etc. is appended. */
  endpoint: string;
  /** Full URL per signal, overriding `endpoint` (e.g. `{ traces: 'https://x/api/traces' }`). */
  signalUrls?: Record<string, string>;
  /** Extra headers; values may be read from files or env (re-read on each request). */
  headers?: Record<string, SecretSource | undefined>;
  /** Default `gzip`. */
  compression?: Compression;
  /** Compression level; default the codec's own (gzip 6, zstd 3). */
  compressionLevel?: number;
  /** Default 10000. */
  timeoutMs?: number;
  tls?: TlsOptions;
  logger?: Logger;
}

const RETRYABLE = new Set([429, 502, 503, 504]);

export function createOtlpHttpExporter(options: OtlpHttpExporterOptions): Exporter {
  const client = createHttpClient();
  const headers = headerReader(options.headers);
  const tls = tlsReader(options.tls);
  const compression = options.compression ?? 'gzip';
  const timeoutMs = options.timeoutMs ?? 10_000;
  const base = options.endpoint.replace(/\/+$/, '');
  const urlFor = (signal: string): URL => new URL(options.signalUrls?.[signal] ?? `${base}/v1/${signal}`);
  return {
    name: 'otlp_http',
    async export(item): Promise<ExportResult> {
      let url: URL;
      try {
        url = urlFor(item.signal);
      } catch (err) {
        return { kind: 'failure', error: err as Error };
      }
      // A precompressed payload goes out as it is (from its parts, unjoined) when its codec is the
      // configured compression; otherwise it is inflated and compressed as configured. Bytes that do
      // not inflate will not heal by waiting: a failure (dead letter), not a retry.
      const enc = item.contentEncoding;
      let body: Uint8Array | readonly Uint8Array[];
      try {
        body =
          enc === undefined
            ? await compress(item.payload, compression, options.compressionLevel)
            : compression === enc
              ? (item.parts ?? item.payload)
              : await compress(await inflateStored(item.payload, enc), compression, options.compressionLevel);
      } catch (err) {
        return { kind: 'failure', error: new Error(`otlp_http: the ${enc ?? 'uncompressed'} payload could not be prepared for ${compression}: ${(err as Error).message}`, { cause: err }) };
      }
      let res;
      try {
        const h = await headers();
        const material = url.protocol === 'https:' ? await tls() : undefined;
        res = await client.post(url, body, {
          ...h,
          'content-type': 'application/x-protobuf',
          ...(compression === 'none' ? {} : { 'content-encoding': compression }),
        }, material, timeoutMs);
      } catch (err) {
        // Unreachable, TLS handshake, unreadable secret: all may heal, so the queue holds.
        return retryable(networkError(url.href, err), undefined);
      }
      if (res.status >= 200 && res.status < 300) {
        const partial = res.headers['content-type']?.includes('json') === true ? undefined : partialSuccess(res.body);
        if (partial !== undefined) options.logger?.warn({ url: url.href, signal: item.signal, ...partial }, 'otlp_http: backend accepted the request but rejected part of it');
        return { kind: 'ok' };
      }
      const error = statusError(url.href, res.status, res.body);
      if (RETRYABLE.has(res.status)) return retryable(error, parseRetryAfter(res.headers['retry-after']));
      return { kind: 'failure', error };
    },
    shutdown() {
      client.close();
      return Promise.resolve();
    },
  };
}
