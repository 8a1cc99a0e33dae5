// Export loop: leases batches from the durable queue and sends them to the backend; a batch
// leaves the queue only once the backend accepted it (ARCHITECTURE.md "Delivery contract" 4).
// Retryable failures (network, 429, 502/503/504) back off with full jitter and honour
// Retry-After while the batch stays at the head of the queue; permanent ones (other 4xx)
// go to the counted dead-letter store.
// NOTE: a stop-gap OTLP/HTTP sender until @sextant/pipeline's exporters and export loop land;
// then this file only maps their results onto the metrics.
import { appendFile } from 'node:fs/promises';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { Logger, Queue, QueueItem } from '@sextant/pipeline';
import type { EnrichmentConfig } from './config.ts';
import { countRecords as countRecordsOf } from './count.ts';
import type { EnrichmentMetrics } from './metrics.ts';
import type { ExportComponent } from './service.ts';

const gzipAsync = promisify(gzip);

type SendResult = { kind: 'ok' } | { kind: 'retryable'; retryAfterMs?: number; error: string } | { kind: 'failure'; error: string };

function retryAfterMs(header: string | null): number | undefined {
  if (header === null) return undefined;
  const seconds = Number(header);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

function otlpHttpSender(exporter: Extract<EnrichmentConfig['exporter'], { type: 'otlp_http' }>): (item: QueueItem, signal: AbortSignal) => Promise<SendResult> {
  const base = exporter.endpoint.replace(/\/+$/, '');
  const compress = exporter.compression !== 'none';
  return async (item, abort) => {
    const url = `${base}/v1/${item.signal}`;
    const body = compress ? await gzipAsync(item.payload) : item.payload;
    const headers: Record<string, string> = { 'content-type': 'application/x-protobuf', ...exporter.headers };
    if (compress) headers['content-encoding'] = 'gzip';
    let res: Response;
    try {
      res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.any([abort, AbortSignal.timeout(exporter.timeoutMs ?? 30_000)]) });
      await res.arrayBuffer();
    } catch (err) {
      return { kind: 'retryable', error: `POST ${url}: ${(err as Error).message}` };
    }
    if (res.ok) return { kind: 'ok' };
    const error = `POST ${url}: HTTP ${res.status}`;
    if (res.status === 429 || res.status === 502 || res.status === 503 || res.status === 504) {
      const after = retryAfterMs(res.headers.get('retry-after'));
      return after === undefined ? { kind: 'retryable', error } : { kind: 'retryable', retryAfterMs: after, error };
    }
    if (res.status >= 500 || res.status === 408) return { kind: 'retryable', error };
    return { kind: 'failure', error };
  };
}

function fileSender(path: string): (item: QueueItem) => Promise<SendResult> {
  return async (item) => {
    const line = JSON.stringify({ signal: item.signal, id: item.id, payload: Buffer.from(item.payload).toString('base64') });
    await appendFile(path, `${line}\n`);
    return { kind: 'ok' };
  };
}

function createExportComponent(config: EnrichmentConfig, queue: Queue, metrics: EnrichmentMetrics, log: Logger): ExportComponent {
  const exp = config.exporter;
  const send =
    exp.type === 'otlp_http'
      ? otlpHttpSender(exp)
      : exp.type === 'file'
        ? fileSender(exp.path)
        : (): Promise<SendResult> => Promise.resolve({ kind: 'failure', error: 'exporter.type "otlp_grpc" is not available in this build; use "otlp_http"' });
  const stop = new AbortController();
  const workers: Array<Promise<void>> = [];
  const initialBackoffMs = 200;
  const maxBackoffMs = 30_000;

  const sleep = (ms: number): Promise<void> =>
    new Promise((resolve) => {
      if (stop.signal.aborted) return resolve();
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        stop.signal.removeEventListener('abort', done);
        resolve();
      }
      stop.signal.addEventListener('abort', done, { once: true });
    });

  async function worker(): Promise<void> {
    let failures = 0;
    while (!stop.signal.aborted) {
      const [item] = await queue.lease(1, stop.signal);
      if (item === undefined) return;
      let result: SendResult;
      try {
        result = await send(item, stop.signal);
      } catch (err) {
        result = { kind: 'retryable', error: (err as Error).message };
      }
      const signal = item.signal;
      metrics.exports.inc({ signal, result: result.kind });
      if (result.kind === 'ok') {
        failures = 0;
        queue.ack(item.id);
        metrics.exportedRecords.inc({ signal }, countSafe(signal, item.payload));
        continue;
      }
      if (result.kind === 'failure' || (config.export.maxElapsedMs > 0 && Date.now() - item.enqueuedAt > config.export.maxElapsedMs)) {
        log.error({ id: item.id, signal, error: result.error }, 'export failed permanently; batch moved to the dead-letter store');
        const dl = await queue.deadLetter(item.id, result.error);
        metrics.deadLettered.inc({ signal, reason: dl.kind });
        continue;
      }
      queue.nack(item.id);
      if (stop.signal.aborted) return;
      failures++;
      const backoff = Math.random() * Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.min(failures, 16));
      const wait = Math.max(backoff, result.retryAfterMs ?? 0);
      if (failures === 1 || failures % 20 === 0) log.warn({ signal, error: result.error, failures, waitMs: Math.round(wait) }, 'export failed; retrying');
      await sleep(wait);
    }
  }

  return {
    start() {
      for (let i = 0; i < config.export.concurrency; i++) {
        workers.push(worker().catch((err: unknown) => log.error({ err }, 'export worker stopped')));
      }
    },
    async shutdown() {
      stop.abort();
      await Promise.all(workers);
    },
  };
}

function countSafe(signal: string, payload: Uint8Array): number {
  return signal === 'logs' || signal === 'metrics' ? countRecordsOf(signal, payload) : 0;
}

export { createExportComponent };
