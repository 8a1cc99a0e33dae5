// Self-metrics (prom-client), served on :8888 with /healthz and /readyz.
import { createServer } from 'node:http';
import type { Server } from 'node:http';
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { TraceReceiverError } from './errors.ts';

interface ReceiverMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'transport' | 'outcome'>;
  readonly receivedSpans: Counter<'transport'>;
  readonly receivedBytes: Counter<'transport'>;
  readonly associated: Counter<'by'>;
  readonly droppedSpans: Counter<'reason'>;
}

interface GaugeSources {
  pendingBytes(): number;
  exportsInFlight(): number;
  exported(): { requests: number; batches: number; bytes: number };
  exportFailures(): { retryable: number; permanent: number };
  queueDepth(): number | undefined;
  metadataSynced(): boolean | undefined;
}

function createReceiverMetrics(sources: () => GaugeSources | undefined): ReceiverMetrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sextant_traces_process_' });
  const requests = new Counter({
    name: 'sextant_traces_requests_total',
    help: 'Export requests answered, by transport and outcome (ok or an error code)',
    labelNames: ['transport', 'outcome'] as const,
    registers: [registry],
  });
  const receivedSpans = new Counter({ name: 'sextant_traces_received_spans_total', help: 'Spans in well-formed requests', labelNames: ['transport'] as const, registers: [registry] });
  const receivedBytes = new Counter({ name: 'sextant_traces_received_bytes_total', help: 'Request bytes after decompression', labelNames: ['transport'] as const, registers: [registry] });
  const associated = new Counter({
    name: 'sextant_traces_resources_total',
    help: 'Resources seen, by how they were associated with a pod (uid, ip, name, peer, none)',
    labelNames: ['by'] as const,
    registers: [registry],
  });
  const droppedSpans = new Counter({ name: 'sextant_traces_dropped_spans_total', help: 'Spans dropped, by reason', labelNames: ['reason'] as const, registers: [registry] });
  const gauge = (name: string, help: string, read: (s: GaugeSources) => number | undefined): void => {
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        const s = sources();
        const v = s === undefined ? undefined : read(s);
        if (v !== undefined) this.set(v);
      },
    });
  };
  gauge('sextant_traces_pending_bytes', 'Bytes accepted and not yet exported', (s) => s.pendingBytes());
  gauge('sextant_traces_exports_in_flight', 'Exports to the backend in progress', (s) => s.exportsInFlight());
  gauge('sextant_traces_exported_requests', 'Client requests delivered to the backend since start', (s) => s.exported().requests);
  gauge('sextant_traces_exported_bytes', 'Bytes delivered to the backend since start', (s) => s.exported().bytes);
  gauge('sextant_traces_export_failures_retryable', 'Retryable export failures since start', (s) => s.exportFailures().retryable);
  gauge('sextant_traces_export_failures_permanent', 'Permanent export failures since start', (s) => s.exportFailures().permanent);
  gauge('sextant_traces_queue_depth', 'Items in the durable queue (absent without a queue)', (s) => s.queueDepth());
  gauge('sextant_traces_metadata_synced', '1 once the Kubernetes metadata cache has synced', (s) => {
    const v = s.metadataSynced();
    return v === undefined ? undefined : v ? 1 : 0;
  });
  return { registry, requests, receivedSpans, receivedBytes, associated, droppedSpans };
}

interface TelemetryServer {
  start(): Promise<number>;
  shutdown(): Promise<void>;
}

function createTelemetryServer(opts: { host: string; port: number; registry: Registry; live: () => boolean; ready: () => { ready: boolean; reason: string } }): TelemetryServer {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/metrics') {
      opts.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': opts.registry.contentType }).end(text),
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
