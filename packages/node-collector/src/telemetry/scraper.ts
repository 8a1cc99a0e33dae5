// Scrapes host and kubelet metrics every interval and POSTs them as one OTLP metrics request (protobuf) to
// enrichment's /v1/metrics, through an exporter of its own on the logs' endpoints (same balancing, failover and
// retry; a separate instance so that a metrics backlog never delays log batches). A failed scrape is counted and
// logged and never stops the collector; a scrape that finds the previous request still unanswered is skipped and
// counted, so at most one request is in flight.
import { Counter, type Registry } from 'prom-client';
import type { Logger } from '@sextant/pipeline';
import { encodeMetricsRequest } from '@sextant/otlp';
import type { ResolvedConfig } from '../config.ts';
import { createExporter } from '../exporter.ts';
import type { Exporter } from '../exporter.ts';
import { scrapeHostMetrics } from '../hostmetrics/host.ts';
import { fetchSummary } from '../kubelet/client.ts';
import { summaryToResourceMetrics } from '../kubelet/summary.ts';
import type { ResolvedMetricsConfig } from './config.ts';
import type { ResourceMetricsInit } from './build.ts';

const P = 'sextant_node_collector_';

interface MetricsScraper {
  /** Scrapes at once, then every interval. */
  start(): void;
  /** One scrape and send; resolves when the request was answered (or given up at shutdown). */
  scrapeOnce(): Promise<void>;
  /** Stops the timer and abandons an unanswered request. */
  shutdown(): Promise<void>;
}

interface ScraperDeps {
  logger: Logger;
  registry: Registry;
}

class Scraper implements MetricsScraper {
  private readonly cfg: ResolvedConfig;
  private readonly m: ResolvedMetricsConfig;
  private readonly log: Logger;
  private readonly exporter: Exporter;
  private readonly scrapes: Counter<'source' | 'result'>;
  private readonly scrapeErrors: Counter<'source' | 'reason'>;
  private readonly points: Counter<'source'>;
  private readonly requests: Counter<'result'>;
  private readonly retries: Counter<'reason'>;
  private readonly dropped: Counter<'reason'>;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<void> | undefined;
  private stopped = false;

  constructor(cfg: ResolvedConfig, m: ResolvedMetricsConfig, deps: ScraperDeps) {
    this.cfg = cfg;
    this.m = m;
    this.log = deps.logger;
    const r = [deps.registry];
    this.scrapes = new Counter({ name: `${P}metric_scrapes_total`, help: 'Metric scrapes by source (host, kubelet) and result (ok, error)', labelNames: ['source', 'result'], registers: r });
    this.scrapeErrors = new Counter({ name: `${P}metric_scrape_errors_total`, help: 'Metric scrape failures by source and reason (a partial host scrape counts reason=partial)', labelNames: ['source', 'reason'], registers: r });
    this.points = new Counter({ name: `${P}metric_points_total`, help: 'Metric data points scraped, by source', labelNames: ['source'], registers: r });
    this.requests = new Counter({ name: `${P}metric_requests_total`, help: 'OTLP metrics requests by result (ok, failure)', labelNames: ['result'], registers: r });
    this.retries = new Counter({ name: `${P}metric_export_retries_total`, help: 'OTLP metrics request retries by reason', labelNames: ['reason'], registers: r });
    this.dropped = new Counter({ name: `${P}metric_requests_dropped_total`, help: 'Metric scrapes not delivered, by reason (busy: previous request unanswered; rejected: permanent refusal)', labelNames: ['reason'], registers: r });
    this.exporter = createExporter({ ...cfg, path: m.path }, {
      onAttempt: () => undefined,
      onRetry: (reason) => this.retries.inc({ reason }),
      log: this.log,
    });
  }

  start(): void {
    this.exporter.start();
    const tick = (): void => {
      if (this.stopped) return;
      this.scrapeOnce().catch((e: unknown) => this.log.warn({ err: e }, 'metrics scrape failed'));
      this.timer = setTimeout(tick, this.m.intervalMs);
      this.timer.unref();
    };
    tick();
  }

  async scrapeOnce(): Promise<void> {
    if (this.inflight !== undefined) {
      this.dropped.inc({ reason: 'busy' });
      this.log.warn('metrics: previous request still unanswered; this scrape is skipped');
      return;
    }
    const p = this.run();
    this.inflight = p;
    try {
      await p;
    } finally {
      this.inflight = undefined;
    }
  }

  private async run(): Promise<void> {
    const [host, kubelet] = await Promise.all([this.host(), this.kubelet()]);
    const resourceMetrics = [...host, ...kubelet];
    if (resourceMetrics.length === 0 || this.stopped) return;
    const body = encodeMetricsRequest({ resourceMetrics });
    const res = await this.exporter.export(body);
    if (res.kind === 'ok') this.requests.inc({ result: 'ok' });
    else if (res.kind === 'failure') {
      this.requests.inc({ result: 'failure' });
      this.dropped.inc({ reason: 'rejected' });
      this.log.warn({ status: res.status, error: res.error }, 'metrics request refused');
    }
  }

  private async host(): Promise<ResourceMetricsInit[]> {
    if (this.m.host === false) return [];
    try {
      const s = await scrapeHostMetrics({ ...this.m.host, nodeName: this.cfg.nodeName, hostName: this.cfg.nodeName });
      this.points.inc({ source: 'host' }, s.points);
      if (s.errors.length > 0) {
        this.scrapeErrors.inc({ source: 'host', reason: 'partial' });
        this.log.warn({ errors: s.errors.slice(0, 10) }, 'host metrics: some parts could not be read');
      }
      this.scrapes.inc({ source: 'host', result: s.points > 0 ? 'ok' : 'error' });
      return s.points > 0 ? [s.resourceMetrics] : [];
    } catch (e) {
      this.scrapes.inc({ source: 'host', result: 'error' });
      this.scrapeErrors.inc({ source: 'host', reason: 'exception' });
      this.log.warn({ err: e }, 'host metrics scrape failed');
      return [];
    }
  }

  private async kubelet(): Promise<ResourceMetricsInit[]> {
    const k = this.m.kubelet;
    if (k === false) return [];
    const r = await fetchSummary({ ...k, nodeName: this.cfg.nodeName });
    if (r.kind === 'error') {
      this.scrapes.inc({ source: 'kubelet', result: 'error' });
      this.scrapeErrors.inc({ source: 'kubelet', reason: r.reason });
      this.log.warn({ endpoint: k.endpoint, reason: r.reason, error: r.error }, 'kubelet /stats/summary scrape failed');
      return [];
    }
    try {
      const rms = summaryToResourceMetrics(r.summary, this.cfg.nodeName);
      let n = 0;
      for (const rm of rms) for (const sm of rm.scopeMetrics ?? []) for (const mt of sm.metrics ?? []) n += mt.data?.value?.dataPoints?.length ?? 0;
      this.points.inc({ source: 'kubelet' }, n);
      this.scrapes.inc({ source: 'kubelet', result: 'ok' });
      return rms;
    } catch (e) {
      this.scrapes.inc({ source: 'kubelet', result: 'error' });
      this.scrapeErrors.inc({ source: 'kubelet', reason: 'decode' });
      this.log.warn({ err: e }, 'kubelet summary could not be converted');
      return [];
    }
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    await this.exporter.shutdown();
    await this.inflight?.catch(() => undefined);
  }
}

function createMetricsScraper(cfg: ResolvedConfig, m: ResolvedMetricsConfig, deps: ScraperDeps): MetricsScraper {
  return new Scraper(cfg, m, deps);
}

export { createMetricsScraper };
export type { MetricsScraper, ScraperDeps };
