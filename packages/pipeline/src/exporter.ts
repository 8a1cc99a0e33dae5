// What every exporter returns and the plumbing the HTTP-based ones share.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { promisify } from 'node:util';
import { constants as zlibConstants, gzip as gzipCb, zstdCompress as zstdCb } from 'node:zlib';
import { SextantError } from './errors.ts';
import type { JsonValue } from './queue.ts';
import type { TlsMaterial } from './tls.ts';

export type ExportResult =
  | { kind: 'ok' }
  | { kind: 'retryable'; retryAfterMs?: number; error: Error }
  | { kind: 'failure'; error: Error };

export interface ExportItem {
  signal: string;
  /** Opaque bytes, e.g. an OTLP Export*ServiceRequest protobuf. */
  payload: Uint8Array;
  meta?: JsonValue | undefined;
  /**
   * 'zstd' / 'gzip': `payload` is already zstd frames / gzip members (the enrichment service's
   * compressed splice). The otlp_http exporter sends them as they are when that is its configured
   * compression; other exporters must be given the decompressed bytes (inflateStored).
   */
  contentEncoding?: 'zstd' | 'gzip' | undefined;
  /**
   * When set, ranges whose concatenation is `payload` (which may then be joined only when read):
   * an exporter that sends the bytes as they are writes these and saves the join.
   */
  readonly parts?: readonly Uint8Array[] | undefined;
}

export interface Exporter {
  readonly name: string;
  /** Never throws: every outcome is a result. */
  export(item: ExportItem): Promise<ExportResult>;
  /** Closes connections and files. */
  shutdown(): Promise<void>;
}

export type Compression = 'none' | 'gzip' | 'zstd';

const gzip = promisify(gzipCb);
const zstd = promisify(zstdCb);

/** `level` undefined = the codec's default (gzip 6, zstd 3). */
export async function compress(body: Uint8Array, c: Compression, level?: number): Promise<Uint8Array> {
  // Output chunks up to the body's size instead of zlib's 16 KiB: each chunk is a thread-pool round
  // trip. A merged 3.2 MB batch of log records, zstd level 1: 6.5 ms of CPU with 16 KiB chunks,
  // 4.4 ms with 1 MiB (bench/README.md "enrichment").
  const chunkSize = Math.min(1024 * 1024, Math.max(16 * 1024, body.byteLength));
  if (c === 'gzip') return gzip(body, level === undefined ? { chunkSize } : { chunkSize, level });
  if (c === 'zstd') return zstd(body, level === undefined ? { chunkSize } : { chunkSize, params: { [zlibConstants.ZSTD_c_compressionLevel]: level } });
  return body;
}

/** Retry-After as delay-seconds or an HTTP-date (RFC 9110 §10.2.3) → milliseconds; undefined if absent/bad. */
export function parseRetryAfter(value: string | string[] | undefined, now = Date.now()): number | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined || v.trim() === '') return undefined;
  if (/^\s*\d+\s*$/.test(v)) return Number(v) * 1000;
  const t = Date.parse(v);
  return Number.isNaN(t) ? undefined : Math.max(0, t - now);
}

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpClient {
  /** `body` given as several ranges is written with one writev (no join). */
  post(url: URL, body: Uint8Array | readonly Uint8Array[], headers: Record<string, string>, tls: TlsMaterial | undefined, timeoutMs: number): Promise<HttpResponse>;
  close(): void;
}

function bodyLength(body: Uint8Array | readonly Uint8Array[]): number {
  if (body instanceof Uint8Array) return body.byteLength;
  let n = 0;
  for (const p of body) n += p.byteLength;
  return n;
}

/** Keep-alive client on node:http/https (a per-request `ca`/`cert`/`key` is part of the https pool key). */
export function createHttpClient(): HttpClient {
  const http = new HttpAgent({ keepAlive: true });
  const https = new HttpsAgent({ keepAlive: true });
  return {
    post(url, body, headers, tls, timeoutMs) {
      return new Promise<HttpResponse>((resolve, reject) => {
        const isHttps = url.protocol === 'https:';
        const common = {
          method: 'POST',
          hostname: url.hostname.replace(/^\[|\]$/g, ''),
          port: url.port === '' ? undefined : Number(url.port),
          path: url.pathname + url.search,
          headers: { ...headers, 'content-length': String(bodyLength(body)) },
          timeout: timeoutMs,
        };
        const onRes = (res: IncomingMessage): void => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        };
        const req = isHttps
          ? httpsRequest({
            ...common, agent: https,
            ...(tls?.ca === undefined ? {} : { ca: tls.ca }),
            ...(tls?.cert === undefined ? {} : { cert: tls.cert }),
            ...(tls?.key === undefined ? {} : { key: tls.key }),
            ...(tls?.servername === undefined ? {} : { servername: tls.servername }),
            rejectUnauthorized: tls?.rejectUnauthorized ?? true,
          }, onRes)
          : httpRequest({ ...common, agent: http }, onRes);
        req.on('timeout', () => req.destroy(new Error(`no response within ${timeoutMs} ms`)));
        req.on('error', reject);
        if (body instanceof Uint8Array) req.end(body);
        else {
          req.cork();
          for (const part of body) req.write(part);
          req.end();
        }
      });
    },
    close() {
      http.destroy();
      https.destroy();
    },
  };
}

export function networkError(target: string, err: unknown): SextantError {
  return new SextantError('SEXTANT_PIPELINE_EXPORT_NETWORK', `cannot reach ${target}: ${(err as Error).message}`, { cause: err });
}

export function statusError(target: string, status: number, body: Buffer): SextantError {
  const text = body.subarray(0, 300).toString('utf8').replace(/[^\x20-\x7e]+/g, ' ').trim();
  return new SextantError('SEXTANT_PIPELINE_EXPORT_HTTP_STATUS', `${target} answered HTTP ${status}${text === '' ? '' : `: ${text}`}`);
}

export function retryable(error: Error, retryAfterMs: number | undefined): ExportResult {
  return retryAfterMs === undefined ? { kind: 'retryable', error } : { kind: 'retryable', retryAfterMs, error };
}
