// STAND-IN until @sextant/node-collector reads host metrics itself (issue 6 "node and pod metrics"):
// @sextant/node-collector has no host-metrics source yet, so the demo samples this machine's
// memory, load and CPU times every interval and POSTs them as OTLP/HTTP protobuf to the enrichment
// service's /v1/metrics, with the resource attributes the collector would set (k8s.node.name,
// host.name). Everything after the POST is the real path: enrichment ingest, durable queue, export.
// Remove this file and its use in run.ts once the collector's config has a host-metrics section.
import { cpus, freemem, hostname, loadavg, totalmem } from 'node:os';
import { encodeMetricsRequest, stringKv, keyValueToMessage } from '@sextant/otlp';

export interface HostMetricsSender {
  /** Samples now and every `intervalMs` afterwards. */
  start(): void;
  /** Stops the timer and sends one last sample; resolves once it was answered. */
  stop(): Promise<void>;
  /** Data points the enrichment service accepted (HTTP 200). */
  accepted(): number;
}

function sample(nodeName: string): { body: Uint8Array; points: number } {
  const now = BigInt(Date.now()) * 1_000_000n;
  const attrs = (pairs: Array<[string, string]>) => pairs.map(([k, v]) => keyValueToMessage(stringKv(k, v)));
  const used = totalmem() - freemem();
  const cpuPoints = cpus().flatMap((c, i) =>
    (['user', 'sys', 'idle'] as const).map((state) => ({
      timeUnixNano: now,
      attributes: attrs([['cpu.logical_number', String(i)], ['cpu.mode', state === 'sys' ? 'system' : state]]),
      value: { case: 'asDouble' as const, value: c.times[state] / 1000 },
    })),
  );
  const body = encodeMetricsRequest({
    resourceMetrics: [
      {
        resource: { attributes: attrs([['k8s.node.name', nodeName], ['host.name', hostname()], ['os.type', process.platform]]) },
        scopeMetrics: [
          {
            scope: { name: 'sextant-demo/hostmetrics' },
            metrics: [
              {
                name: 'system.memory.usage',
                unit: 'By',
                data: {
                  case: 'sum',
                  value: {
                    aggregationTemporality: 2,
                    isMonotonic: false,
                    dataPoints: [
                      { timeUnixNano: now, attributes: attrs([['system.memory.state', 'used']]), value: { case: 'asInt', value: BigInt(used) } },
                      { timeUnixNano: now, attributes: attrs([['system.memory.state', 'free']]), value: { case: 'asInt', value: BigInt(freemem()) } },
                    ],
                  },
                },
              },
              {
                name: 'system.cpu.load_average.1m',
                unit: '{thread}',
                data: { case: 'gauge', value: { dataPoints: [{ timeUnixNano: now, value: { case: 'asDouble', value: loadavg()[0] ?? 0 } }] } },
              },
              {
                name: 'system.cpu.time',
                unit: 's',
                data: { case: 'sum', value: { aggregationTemporality: 2, isMonotonic: true, dataPoints: cpuPoints } },
              },
            ],
          },
        ],
      },
    ],
  });
  return { body, points: 3 + cpuPoints.length };
}

export function createHostMetricsSender(o: { endpoint: string; nodeName: string; intervalMs: number }): HostMetricsSender {
  let timer: NodeJS.Timeout | undefined;
  let accepted = 0;
  const inflight = new Set<Promise<void>>();
  const send = (): void => {
    const { body, points } = sample(o.nodeName);
    const p = fetch(`${o.endpoint}/v1/metrics`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body, signal: AbortSignal.timeout(10_000) })
      .then(async (res) => {
        await res.arrayBuffer();
        if (res.ok) accepted += points;
      })
      .catch(() => undefined);
    inflight.add(p);
    void p.finally(() => inflight.delete(p));
  };
  return {
    start() {
      send();
      timer = setInterval(send, o.intervalMs);
    },
    async stop() {
      if (timer !== undefined) clearInterval(timer);
      timer = undefined;
      send();
      await Promise.all(inflight);
    },
    accepted: () => accepted,
  };
}
