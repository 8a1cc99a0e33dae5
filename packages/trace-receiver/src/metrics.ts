// Self-metrics (prom-client), served on :8888 with /healthz and /readyz.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { createMetrics } from '@sextant/pipeline';
import type { Metrics } from '@sextant/pipeline';
import type { Counter } from 'prom-client';
import { TraceReceiverError } from './errors.ts';

interface ReceiverMetrics {
  readonly metrics: Metrics;
  readonly requests: Counter<'transport' | 'outcome'>;
  readonly receivedSpans: Counter<'transport'>;
  readonly receivedBytes: Counter<'transport'>;
  readonly associated: Counter<'by'>;
  /** `sextant_traces_dropped_total{reason}`, counted in spans (ARCHITECTURE.md "Delivery contract"). */
  readonly droppedSpans: Counter<'reason'>;
}

interface GaugeSources {
  pendingBytes(): number;
  exportsInFlight(): number;
  exported(): { requests: number; batches: number };
  metadataSynced(): boolean | undefined;
}

/** All names are `sextant_traces_*` (pipeline's createMetrics('traces')). */
function createReceiverMetrics(sources: () => GaugeSources | undefined): ReceiverMetrics {
  const metrics = createMetrics('traces');
  const requests = metrics.counter<'transport' | 'outcome'>('requests_total', {
    help: 'Export requests answered, by transport (grpc, http) and outcome (ok or an error code).',
    labelNames: ['transport', 'outcome'],
  });
  const receivedSpans = metrics.counter<'transport'>('received_spans_total', { help: 'Spans in well-formed requests.', labelNames: ['transport'] });
  const receivedBytes = metrics.counter<'transport'>('received_bytes_total', { help: 'Request bytes after decompression.', labelNames: ['transport'] });
  const associated = metrics.counter<'by'>('resources_total', {
    help: 'Resources seen, by how they were associated with a pod (uid, ip, name, peer) or none.',
    labelNames: ['by'],
  });
  const gauge = (name: string, help: string, read: (s: GaugeSources) => number | undefined): void => {
    metrics.gauge(name, {
      help,
      collect() {
        const s = sources();
        const v = s === undefined ? undefined : read(s);
        if (v !== undefined) this.set(v);
      },
    });
  };
  gauge('pending_bytes', 'Bytes accepted and not yet exported (without the queue: waiting + in flight; with it: queued).', (s) => s.pendingBytes());
  gauge('exports_in_flight', 'Exports to the backend in progress.', (s) => s.exportsInFlight());
  gauge('exported_requests', 'Client requests delivered to the backend since start.', (s) => s.exported().requests);
  gauge('export_batches', 'Exports that delivered them (without the queue, requests that arrive while every export is busy share one).', (s) => s.exported().batches);
  gauge('metadata_synced', '1 once the Kubernetes metadata cache has synced.', (s) => {
    const v = s.metadataSynced();
    return v === undefined ? undefined : v ? 1 : 0;
  });
  return { metrics, requests, receivedSpans, receivedBytes, associated, droppedSpans: metrics.dropped() };
}

interface TelemetryServer {
  start(): Promise<number>;
  shutdown(): Promise<void>;
}

function createTelemetryServer(opts: { host: string; port: number; metrics: Metrics; live: () => boolean; ready: () => { ready: boolean; reason: string } }): TelemetryServer {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.metrics.text().then(
        (text) => res.writeHead(200, { 'content-type': opts.metrics.contentType }).end(text),
        (err: unknown) => res.writeHead(500).end(String(err)),
      );
      return;
    }
    if (path === '/healthz') {
      const ok = opts.live();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not live\n');
      return;
    }
    if (path === '/readyz') {
      const r = opts.ready();
      res.writeHead(r.ready ? 200 : 503, { 'content-type': 'text/plain' }).end(r.ready ? 'ready\n' : `not ready: ${r.reason}\n`);
      return;
    }
    res.writeHead(404).end();
  });
  return {
    start() {
      return new Promise((resolve, reject) => {
        server.once('error', (err) => reject(new TraceReceiverError('SEXTANT_TRACES_LISTEN', `telemetry listener could not bind ${opts.host}:${opts.port}: ${err.message}`, { cause: err })));
        server.listen(opts.port, opts.host, () => {
          const a = server.address();
          resolve(typeof a === 'object' && a !== null ? a.port : opts.port);
        });
      });
    },
    shutdown() {
      return new Promise((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

export { createReceiverMetrics, createTelemetryServer };
export type { GaugeSources, ReceiverMetrics, TelemetryServer };
