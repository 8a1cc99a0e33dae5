// POSTs compressed OTLP/HTTP bodies to the enrichment service. Endpoints come from a static list or from the A
// records of a headless Service (re-resolved periodically); requests are balanced round-robin over healthy ones,
// a failing endpoint is avoided for a while, and retryable failures (429, 5xx, connection errors) are retried
// with backoff and jitter, honouring Retry-After, until shutdown. See ARCHITECTURE.md "Delivery contract".
import { Agent, request } from 'node:http';
import { promises as dns } from 'node:dns';
import { promisify } from 'node:util';
import { gzip, zstdCompress } from 'node:zlib';
import type { ResolvedConfig } from './config.ts';

const gzipP = promisify(gzip);
const zstdP = promisify(zstdCompress);

type ExportResult = { kind: 'ok' } | { kind: 'failure'; status: number; error: string } | { kind: 'aborted' };
type AttemptResult = { kind: 'ok' } | { kind: 'retryable'; retryAfterMs?: number; error: string; endpointFault: boolean } | { kind: 'failure'; status: number; error: string };

interface Endpoint {
  host: string;
  port: number;
  unhealthyUntil: number;
}

interface ExporterHooks {
  onAttempt(result: 'ok' | 'retryable' | 'failure'): void;
  onRetry(reason: string): void;
}

interface Exporter {
  start(): void;
  /** Sends one request body until it is acked or permanently refused. Resolves `aborted` after shutdown. */
  export(body: Uint8Array): Promise<ExportResult>;
  endpoints(): string[];
  shutdown(): Promise<void>;
}

function parseHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

function retryAfterMs(v: string | string[] | undefined): number | undefined {
  const s = Array.isArray(v) ? v[0] : v;
  if (s === undefined || s === '') return undefined;
  if (/^\d+$/.test(s.trim())) return Number(s.trim()) * 1000;
  const t = Date.parse(s);
  return Number.isNaN(t) ? undefined : Math.max(0, t - Date.now());
}

class HttpExporter implements Exporter {
  private readonly cfg: ResolvedConfig;
  private readonly hooks: ExporterHooks;
  private list: Endpoint[];
  private next = 0;
  private readonly agent: Agent;
  private stopped = false;
  private resolveTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(cfg: ResolvedConfig, hooks: ExporterHooks) {
    this.cfg = cfg;
    this.hooks = hooks;
    this.list = cfg.endpoints.map((e) => ({ ...parseHostPort(e), unhealthyUntil: 0 }));
    this.agent = new Agent({ keepAlive: true, maxSockets: cfg.maxConcurrentRequests * 2 });
  }

  start(): void {
    const svc = this.cfg.service;
    if (svc === undefined) return;
    const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
    if (svc.dnsServers !== undefined) resolver.setServers(svc.dnsServers);
    const resolve = async (): Promise<void> => {
      try {
        const ips = await resolver.resolve4(svc.name);
        const old = new Map(this.list.map((e) => [`${e.host}:${e.port}`, e]));
        const fresh = ips.sort().map((ip) => old.get(`${ip}:${svc.port}`) ?? { host: ip, port: svc.port, unhealthyUntil: 0 });
        if (fresh.length > 0) this.list = [...fresh, ...this.cfg.endpoints.map((e) => ({ ...parseHostPort(e), unhealthyUntil: 0 }))];
      } catch {
        // keep the last known list; a DNS outage must not stop delivery to known endpoints
      }
    };
    const loop = (): void => {
      resolve()
        .catch(() => undefined)
        .finally(() => {
          if (!this.stopped) this.resolveTimer = setTimeout(loop, svc.resolveIntervalMs);
        });
    };
    loop();
  }

  endpoints(): string[] {
    return this.list.map((e) => `${e.host}:${e.port}`);
  }

  async shutdown(): Promise<void> {
    this.stopped = true;
    if (this.resolveTimer !== undefined) clearTimeout(this.resolveTimer);
    for (const w of [...this.waiters]) w();
    this.agent.destroy();
    await Promise.resolve();
  }

  async export(raw: Uint8Array): Promise<ExportResult> {
    const body = await this.compress(raw);
    let attempt = 0;
    while (!this.stopped) {
      const ep = this.pick();
      if (ep === undefined) {
        this.hooks.onRetry('no_endpoint');
        await this.sleep(this.backoff(attempt++));
        continue;
      }
      const r = await this.attempt(ep, body);
      if (r.kind === 'ok') {
        this.hooks.onAttempt('ok');
        return r;
      }
      if (r.kind === 'failure') {
        this.hooks.onAttempt('failure');
        return r;
      }
      this.hooks.onAttempt('retryable');
      this.hooks.onRetry(r.error.startsWith('status') || r.error === 'stale_socket' ? r.error : 'connection');
      if (r.error === 'stale_socket') continue;
      // this endpoint is avoided (for Retry-After if it said so); another healthy one is tried at once
      const avoidMs = r.retryAfterMs !== undefined ? Math.max(r.retryAfterMs, this.cfg.retry.initialMs) : r.endpointFault ? this.cfg.unhealthyForMs : 0;
      if (avoidMs > 0) ep.unhealthyUntil = Date.now() + avoidMs;
      if (avoidMs > 0 && this.healthyCount() > 0) continue;
      // Retry-After is honoured, but never below the initial backoff (a "0" must not become a busy loop)
      await this.sleep(r.retryAfterMs !== undefined ? Math.max(r.retryAfterMs, this.cfg.retry.initialMs) : this.backoff(attempt++));
    }
    return { kind: 'aborted' };
  }

  private healthyCount(): number {
    const now = Date.now();
    return this.list.filter((e) => e.unhealthyUntil <= now).length;
  }

  private pick(): Endpoint | undefined {
    const n = this.list.length;
    if (n === 0) return undefined;
    const now = Date.now();
    for (let i = 0; i < n; i++) {
      const e = this.list[(this.next + i) % n];
      if (e !== undefined && e.unhealthyUntil <= now) {
        this.next = (this.next + i + 1) % n;
        return e;
      }
    }
    // all unhealthy: try the one that failed longest ago
    return this.list.reduce((a, b) => (b.unhealthyUntil < a.unhealthyUntil ? b : a));
  }

  private backoff(attempt: number): number {
    const cap = Math.min(this.cfg.retry.maxMs, this.cfg.retry.initialMs * 2 ** Math.min(attempt, 20));
    return cap / 2 + Math.random() * (cap / 2);
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        this.waiters.delete(done);
        resolve();
      };
      const t = setTimeout(done, ms);
      if (this.stopped) done();
      else this.waiters.add(done);
    });
  }

  private async compress(raw: Uint8Array): Promise<Uint8Array> {
    if (this.cfg.compression === 'zstd') return zstdP(raw);
    if (this.cfg.compression === 'gzip') return gzipP(raw);
    return raw;
  }

  private attempt(ep: Endpoint, body: Uint8Array): Promise<AttemptResult> {
    const headers: Record<string, string | number> = { 'content-type': 'application/x-protobuf', 'content-length': body.length };
    if (this.cfg.compression !== 'none') headers['content-encoding'] = this.cfg.compression;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: AttemptResult): void => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const req = request(
        { host: ep.host, port: ep.port, method: 'POST', path: this.cfg.path, headers, agent: this.agent, timeout: this.cfg.requestTimeoutMs },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (chunks.length < 16) chunks.push(c);
          });
          res.on('error', (e) => finish({ kind: 'retryable', error: `response: ${e.message}`, endpointFault: true }));
          res.on('end', () => {
            const s = res.statusCode ?? 0;
            if (s >= 200 && s < 300) finish({ kind: 'ok' });
            else if (s === 429 || s === 408 || s >= 500) {
              const ra = retryAfterMs(res.headers['retry-after']);
              finish(ra === undefined ? { kind: 'retryable', error: `status_${s}`, endpointFault: true } : { kind: 'retryable', error: `status_${s}`, retryAfterMs: ra, endpointFault: true });
            } else finish({ kind: 'failure', status: s, error: Buffer.concat(chunks).toString('utf8').slice(0, 500) });
          });
        },
      );
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        // a keep-alive socket the server closed while idle is not a sick endpoint: retry at once, no penalty
        const stale = req.reusedSocket && (e.code === 'ECONNRESET' || e.code === 'EPIPE');
        finish({ kind: 'retryable', error: stale ? 'stale_socket' : `connection: ${e.message}`, endpointFault: !stale, ...(stale ? { retryAfterMs: 0 } : {}) });
      });
      req.end(body);
    });
  }
}

function createExporter(cfg: ResolvedConfig, hooks: ExporterHooks): Exporter {
  return new HttpExporter(cfg, hooks);
}

export { createExporter };
export type { Exporter, ExportResult, ExporterHooks };
