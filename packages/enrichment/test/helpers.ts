// Test helpers: OTLP requests, a real HTTP sink that plays the backend, temp dirs.
import { createServer } from 'node:http';
import type { IncomingMessage, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { decodeLogsRequest, encodeLogsRequest, encodeMetricsRequest } from '@sextant/otlp';
import { inflateZstdFrames, silentLogger } from '@sextant/pipeline';
import { createEnrichmentService } from '@sextant/enrichment';
import type { EnrichmentService } from '@sextant/enrichment';
import type { ExportLogsServiceRequest } from '@sextant/otlp';

type Attr = [string, string];

function attrs(list: readonly Attr[]): Array<{ key: string; value: { value: { case: 'stringValue'; value: string } } }> {
  return list.map(([key, value]) => ({ key, value: { value: { case: 'stringValue' as const, value } } }));
}

/** An ExportLogsServiceRequest with one resource per entry, `records` log records each. */
function logsRequest(resources: ReadonlyArray<{ attributes: readonly Attr[]; records?: number; body?: string }>): Uint8Array {
  return encodeLogsRequest({
    resourceLogs: resources.map((r) => ({
      resource: { attributes: attrs(r.attributes) },
      scopeLogs: [
        {
          scope: { name: 'sextant-test' },
          logRecords: Array.from({ length: r.records ?? 1 }, (_, i) => ({
            timeUnixNano: 1_700_000_000_000_000_000n + BigInt(i),
            body: { value: { case: 'stringValue' as const, value: r.body === undefined ? `line ${i}` : `${r.body} ${i}` } },
            attributes: attrs([['log.iostream', 'stdout']]),
          })),
        },
      ],
    })),
  });
}

function metricsRequest(attributes: readonly Attr[], points: number): Uint8Array {
  return encodeMetricsRequest({
    resourceMetrics: [
      {
        resource: { attributes: attrs(attributes) },
        scopeMetrics: [
          {
            metrics: [
              {
                name: 'test.gauge',
                data: { case: 'gauge', value: { dataPoints: Array.from({ length: points }, (_, i) => ({ timeUnixNano: 1n + BigInt(i), value: { case: 'asDouble' as const, value: i } })) } },
              },
            ],
          },
        ],
      },
    ],
  });
}

/** Resource attributes of a decoded request, as plain [key, string value] pairs per resource. */
function resourceAttrs(req: ExportLogsServiceRequest): Array<Array<[string, string]>> {
  return req.resourceLogs.map((rl) =>
    (rl.resource?.attributes ?? []).map((kv) => [kv.key, kv.value?.value.case === 'stringValue' ? kv.value.value.value : JSON.stringify(kv.value?.value.value)] as [string, string]),
  );
}

interface Sink {
  endpoint: string;
  logs: ExportLogsServiceRequest[];
  requests: number;
  /** Content-Encoding and wire bytes of every request received. */
  wire: Array<{ encoding: string | undefined; body: Buffer }>;
  /** Answer this status (and Retry-After) instead of 200 while set. */
  failWith: number | undefined;
  close(): Promise<void>;
}

async function readBody(req: IncomingMessage, wire?: Sink['wire']): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const body = Buffer.concat(chunks);
  wire?.push({ encoding: req.headers['content-encoding'], body });
  const encoding = req.headers['content-encoding'];
  if (encoding === 'zstd') return inflateZstdFrames(body); // every frame (node:zlib alone stops after the first)
  return encoding === 'gzip' ? gunzipSync(body) : body;
}

/** Listens on 127.0.0.1 port 0; `close` drops open connections and stops listening. */
async function listenLocal(server: Server): Promise<{ url: string; close: () => Promise<void> }> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A real OTLP/HTTP backend stand-in that decodes and keeps what it gets. */
async function startSink(): Promise<Sink> {
  const sink: Sink = {
    endpoint: '',
    logs: [],
    requests: 0,
    wire: [],
    failWith: undefined,
    close: () => Promise.resolve(),
  };
  const server = createServer((req, res) => {
    void readBody(req, sink.wire).then((body) => {
      sink.requests++;
      if (sink.failWith !== undefined) {
        res.writeHead(sink.failWith, { 'retry-after': '0' });
        res.end();
        return;
      }
      if (req.url === '/v1/logs') sink.logs.push(decodeLogsRequest(body));
      res.writeHead(200, { 'content-type': 'application/x-protobuf' });
      res.end();
    });
  });
  const listening = await listenLocal(server);
  sink.endpoint = listening.url;
  sink.close = listening.close;
  return sink;
}

async function tempDir(prefix: string): Promise<{ path: string; remove: () => Promise<void> }> {
  const path = await mkdtemp(join(tmpdir(), prefix));
  return { path, remove: () => rm(path, { recursive: true, force: true }) };
}

async function waitUntil(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Value of one sample in Prometheus text, e.g. metricValue(text, 'x_total{reason="y"}'). */
function metricValue(text: string, series: string): number | undefined {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/**
 * A silent enrichment service on a free loopback port, started and ready; its shutdown is pushed
 * onto `cleanups`. `config` is the service's config object (listen is filled in).
 */
async function startService(config: Record<string, unknown>, cleanups: Array<() => Promise<void>>): Promise<{ service: EnrichmentService; logsUrl: string }> {
  const service = createEnrichmentService({ listen: { host: '127.0.0.1', port: 0 }, ...config }, { logger: silentLogger() });
  cleanups.push(() => service.shutdown());
  await service.start();
  await waitUntil('ready', () => service.ready());
  return { service, logsUrl: `http://127.0.0.1:${service.address()?.port}/v1/logs` };
}

export { listenLocal, logsRequest, startService, metricValue, metricsRequest, resourceAttrs, startSink, tempDir, waitUntil };
export type { Attr, Sink };
