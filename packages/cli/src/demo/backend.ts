// The demo's backend: an OTLP/HTTP endpoint (POST /v1/logs, /v1/metrics, /v1/traces) that writes
// each request as one OTLP/JSON line to <dir>/<signal>.jsonl (the layout of the OTel Collector's
// file exporter), through @sextant/pipeline's file exporter with an OTLP/JSON transform.
// Enrichment and the trace receiver export to it with their ordinary otlp_http exporters: neither
// component can write OTLP/JSON files itself (enrichment's file exporter writes length-prefixed
// protobuf, the trace receiver has none), and this keeps their export path the one used in a cluster.
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import {
  countRecords,
  decodeLogsRequest,
  decodeLogsRequestJson,
  decodeMetricsRequest,
  decodeMetricsRequestJson,
  decodeTraceRequest,
  decodeTraceRequestJson,
  encodeLogsRequest,
  encodeLogsRequestJson,
  encodeMetricsRequest,
  encodeMetricsRequestJson,
  encodeTraceRequest,
  encodeTraceRequestJson,
} from '@sextant/otlp';
import type { Signal } from '@sextant/otlp';
import { createFileExporter, ingestRejection, readOtlpBody, rejectionResponse, successResponse } from '@sextant/pipeline';
import type { ExportItem, IngestResponse } from '@sextant/pipeline';

export interface BackendCounts {
  requests: number;
  logs: number;
  metrics: number;
  spans: number;
}

export interface DemoBackend {
  /** Listens on 127.0.0.1 (a free port); resolves with it. */
  start(): Promise<number>;
  /** Stops listening and closes the files. */
  shutdown(): Promise<void>;
  counts(): BackendCounts;
  /** `<dir>/<signal>.jsonl`. */
  fileOf(signal: Signal): string;
}

function toJsonLine(item: ExportItem): string {
  switch (item.signal) {
    case 'logs':
      return `${encodeLogsRequestJson(decodeLogsRequest(item.payload))}\n`;
    case 'metrics':
      return `${encodeMetricsRequestJson(decodeMetricsRequest(item.payload))}\n`;
    default:
      return `${encodeTraceRequestJson(decodeTraceRequest(item.payload))}\n`;
  }
}

/** Protobuf bytes of a request that arrived as protobuf or OTLP/JSON (throws when it is neither). */
function protobufOf(signal: Signal, format: 'json' | 'protobuf', body: Buffer): Uint8Array {
  if (signal === 'logs') return format === 'json' ? encodeLogsRequest(decodeLogsRequestJson(body)) : (decodeLogsRequest(body), body);
  if (signal === 'metrics') return format === 'json' ? encodeMetricsRequest(decodeMetricsRequestJson(body)) : (decodeMetricsRequest(body), body);
  return format === 'json' ? encodeTraceRequest(decodeTraceRequestJson(body)) : (decodeTraceRequest(body), body);
}

const SIGNALS: Record<string, Signal> = { '/v1/logs': 'logs', '/v1/metrics': 'metrics', '/v1/traces': 'traces' };

export function createDemoBackend(dir: string): DemoBackend {
  const exporter = createFileExporter({ path: join(dir, '{signal}.jsonl'), maxBytes: 1024 * 1024 * 1024, transform: toJsonLine });
  const counts: BackendCounts = { requests: 0, logs: 0, metrics: 0, spans: 0 };
  let server: Server | undefined;

  const answer = (res: ServerResponse, r: IngestResponse): void => {
    res.writeHead(r.statusCode, r.headers).end(r.body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const signal = SIGNALS[req.url ?? ''];
    if (req.method !== 'POST' || signal === undefined) {
      res.writeHead(404).end();
      return;
    }
    const read = await readOtlpBody(req, req.headers);
    if (read.kind !== 'ok') {
      answer(res, rejectionResponse(read, 'protobuf'));
      return;
    }
    let payload: Uint8Array;
    try {
      payload = protobufOf(signal, read.format, read.body);
    } catch (err) {
      answer(res, rejectionResponse(ingestRejection('SEXTANT_INGEST_MALFORMED', (err as Error).message), read.format));
      return;
    }
    const result = await exporter.export({ signal, payload });
    if (result.kind !== 'ok') {
      answer(res, rejectionResponse(ingestRejection('SEXTANT_INGEST_UNAVAILABLE', result.error.message, { retryAfterMs: 1000 }), read.format));
      return;
    }
    counts.requests++;
    const n = countRecords(payload, signal);
    if (signal === 'logs') counts.logs += n;
    else if (signal === 'metrics') counts.metrics += n;
    else counts.spans += n;
    answer(res, successResponse(signal, read.format));
  };

  return {
    async start() {
      const s = createServer((req, res) => {
        handle(req, res).catch((err: unknown) => {
          if (!res.headersSent) res.writeHead(500).end(String(err));
        });
      });
      // longer than the exporters' idle keep-alive, so the backend never closes a socket a client is about to reuse
      s.keepAliveTimeout = 65_000;
      server = s;
      await new Promise<void>((resolve, reject) => {
        s.once('error', reject);
        s.listen(0, '127.0.0.1', () => resolve());
      });
      return (s.address() as AddressInfo).port;
    },
    async shutdown() {
      const s = server;
      server = undefined;
      if (s !== undefined) {
        s.closeIdleConnections();
        await new Promise<void>((resolve) => s.close(() => resolve()));
      }
      await exporter.shutdown();
    },
    counts: () => ({ ...counts }),
    fileOf: (signal) => join(dir, `${signal}.jsonl`),
  };
}
