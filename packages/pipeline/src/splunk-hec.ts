// Splunk HTTP Event Collector exporter: POST <endpoint>/services/collector/event with
// `Authorization: Splunk <token>` and a body of concatenated JSON events (HEC accepts several per request).
// Turning OTLP into events needs a decoder, which lives in @sextant/otlp; the caller injects it as
// `toHecEvents`, so this package stays independent of the codec.
import { SextantError } from './errors.ts';
import { headerReader, secretReader } from './secrets.ts';
import { tlsReader } from './tls.ts';
import { compress, createHttpClient, networkError, parseRetryAfter, retryable, statusError } from './exporter.ts';
import type { ExportResult, Exporter } from './exporter.ts';
import type { SecretSource } from './config.ts';
import type { TlsOptions } from './tls.ts';
import type { JsonValue } from './queue.ts';

/** One HEC event object: `{ time, host, source, sourcetype, index, event, fields }`. */
export type HecEvent = { event: JsonValue } & Record<string, JsonValue>;

export interface SplunkHecExporterOptions {
  /** e.g. `https://splunk:8088`; `/services/collector/event` is appended unless the URL has a path. */
  endpoint: string;
  token: SecretSource;
  /** Decodes an item into HEC events (built on @sextant/otlp by the component). */
  toHecEvents: (signal: string, payload: Uint8Array) => HecEvent[] | Promise<HecEvent[]>;
  /** Defaults added to events that lack them. */
  index?: string;
  source?: string;
  sourcetype?: string;
  headers?: Record<string, SecretSource | undefined>;
  /** Default `gzip` (HEC accepts gzip). */
  compression?: 'none' | 'gzip';
  /** Default 10000. */
  timeoutMs?: number;
  tls?: TlsOptions;
  /**
   * Treat 401/403 as retryable. Default true: a rotated or mistyped token should hold the queue
   * until it is fixed rather than dead-letter everything.
   */
  retryOnAuthFailure?: boolean;
}

export function createSplunkHecExporter(options: SplunkHecExporterOptions): Exporter {
  const client = createHttpClient();
  const token = secretReader(options.token);
  const headers = headerReader(options.headers);
  const tls = tlsReader(options.tls);
  const compression = options.compression ?? 'gzip';
  const url = new URL(options.endpoint);
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/services/collector/event';
  const defaults: Record<string, string> = {};
  if (options.index !== undefined) defaults.index = options.index;
  if (options.source !== undefined) defaults.source = options.source;
  if (options.sourcetype !== undefined) defaults.sourcetype = options.sourcetype;
  return {
    name: 'splunk_hec',
    async export(item): Promise<ExportResult> {
      let events: HecEvent[];
      try {
        events = await options.toHecEvents(item.signal, item.payload);
      } catch (err) {
        return { kind: 'failure', error: new SextantError('SEXTANT_PIPELINE_EXPORT_TRANSFORM', `cannot turn a ${item.signal} item into HEC events: ${(err as Error).message}`, { cause: err }) };
      }
      if (events.length === 0) return { kind: 'ok' };
      const body = Buffer.from(events.map((e) => JSON.stringify({ ...defaults, ...e })).join('\n'));
      let res;
      try {
        const h = { ...(await headers()), authorization: `Splunk ${await token()}`, 'content-type': 'application/json' };
        const sent = await compress(body, compression);
        res = await client.post(url, sent, compression === 'gzip' ? { ...h, 'content-encoding': 'gzip' } : h,
          url.protocol === 'https:' ? await tls() : undefined, options.timeoutMs ?? 10_000);
      } catch (err) {
        return retryable(networkError(url.href, err), undefined);
      }
      if (res.status >= 200 && res.status < 300) return { kind: 'ok' };
      const error = statusError(url.href, res.status, res.body);
      const auth = (res.status === 401 || res.status === 403) && options.retryOnAuthFailure !== false;
      // HEC answers 503 when busy and 5xx on internal errors; both heal.
      if (res.status === 429 || res.status >= 500 || auth) return retryable(error, parseRetryAfter(res.headers['retry-after']));
      return { kind: 'failure', error };
    },
    shutdown() {
      client.close();
      return Promise.resolve();
    },
  };
}
