// POSTs compressed OTLP/HTTP bodies to the enrichment service. Endpoints come from a static list or from the A
// records of a headless Service (re-resolved periodically); requests are balanced round-robin over healthy ones,
// a failing endpoint is avoided for a while, and retryable failures (429, 5xx, connection errors) are retried
// with backoff and jitter, honouring Retry-After, until shutdown. See ARCHITECTURE.md "Delivery contract".
// With `tls` the hop is HTTPS (optionally mTLS); the CA and client certificate are re-read when their files change.
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { ClientRequest, IncomingMessage, RequestOptions } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promises as dns } from 'node:dns';
import { promisify } from 'node:util';
import { zstdCompress } from 'node:zlib';
import { encodeGzipFramedLogs, encodeZstdFramedLogs } from '@sextant/otlp';
import type { ResolvedConfig } from './config.ts';
import { clientTlsReader } from './tls.ts';
import type { ClientTlsReader } from './tls.ts';

const zstdP = promisify(zstdCompress);

type ExportResult = { kind: 'ok' } | { kind: 'failure'; status: number; error: string } | { kind: 'aborted' };
type AttemptResult = { kind: 'ok' } | { kind: 'retryable'; retryAfterMs?: number; error: string; endpointFault: boolean } | { kind: 'failure'; status: number; error: string };

interface Endpoint {
  host: string;
  port: number;
  unhealthyUntil: number;
  /** TLS name to verify; undefined: the host. */
  serverName: string | undefined;
  /** The endpoint said (ZSTD_FRAMES_HEADER on a 2xx) that it reads every frame of a zstd body. */
  zstdFrames?: boolean;
}

/**
 * Response header by which an enrichment service says it reads multi-frame zstd bodies. Until an
 * endpoint has said so, it gets one frame: a receiver on node:zlib's zstd decoder (an enrichment
 * service from before the framed bodies) reads only the first frame, so framing must be negotiated,
 * never assumed (a mid-rollout mix of versions would otherwise refuse batches).
 */
const ZSTD_FRAMES_HEADER = 'sextant-zstd-frames';

/** The part of a pino logger the exporter uses. */
interface ExporterLog {
  error(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  info(obj: object, msg: string): void;
}

interface ExporterHooks {
  onAttempt(result: 'ok' | 'retryable' | 'failure'): void;
  onRetry(reason: string): void;
  /** Delivery problems (TLS, refused certificates, unreachable endpoints) and recoveries, once per change. */
  log?: ExporterLog | undefined;
}

type SendFn = (options: RequestOptions, callback: (res: IncomingMessage) => void) => ClientRequest;

// Node/OpenSSL codes of a failed handshake or certificate check.
const TLS_ERROR = /^(ERR_TLS_|ERR_SSL_|CERT_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|EPROTO$|HOSTNAME_MISMATCH)/;

/** The message of a google.rpc.Status body (protobuf field 2, or JSON `message`), for logs. */
function statusMessage(body: Buffer, contentType: string | undefined): string {
  if (contentType?.includes('json') === true) {
    try {
      const m = (JSON.parse(body.toString('utf8')) as { message?: unknown }).message;
      return typeof m === 'string' ? m : body.toString('utf8').slice(0, 500);
    } catch {
      return body.toString('utf8').slice(0, 500);
    }
  }
  let i = 0;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; i < body.length && shift < 35; shift += 7) {
      const b = body[i++] ?? 0;
      v += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) break;
    }
    return v;
  };
  while (i < body.length) {
    const tag = varint();
    if (tag === 0x12) {
      const len = varint();
      return body.subarray(i, i + len).toString('utf8');
    }
    if ((tag & 7) === 0) varint();
    else if ((tag & 7) === 2) i += varint();
    else break;
  }
  return '';
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
  private agent: HttpAgent | HttpsAgent;
  private readonly send: SendFn;
  private readonly tls: ClientTlsReader | undefined;
  private tlsVersion = 0;
  /** A TLS failure happened: re-stat the files before the next attempt. */
  private tlsSuspect = false;
  /** Last problem logged per endpoint, so a failing endpoint is logged once per change (and once a minute). */
  private readonly problems = new Map<string, { error: string; at: number }>();
  private stopped = false;
  private resolveTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<() => void>();

  constructor(cfg: ResolvedConfig, hooks: ExporterHooks) {
    this.cfg = cfg;
    this.hooks = hooks;
    this.list = this.staticEndpoints();
    this.agent = new HttpAgent({ keepAlive: true, maxSockets: cfg.maxConcurrentRequests * 2 });
    this.send = cfg.tls === undefined ? httpRequest : httpsRequest;
    this.tls = cfg.tls === undefined ? undefined : clientTlsReader(cfg.tls, cfg.tls.reloadIntervalMs);
  }

  private staticEndpoints(): Endpoint[] {
    return this.cfg.endpoints.map((e) => ({ ...parseHostPort(e), unhealthyUntil: 0, serverName: this.cfg.tls?.serverName }));
  }

  /** The agent for the next request: with TLS, rebuilt when the CA or client certificate files changed. */
  private async currentAgent(): Promise<HttpAgent | HttpsAgent> {
    const tls = this.tls;
    const opts = this.cfg.tls;
    if (tls === undefined || opts === undefined) return this.agent;
    const m = await tls.get(this.tlsSuspect);
    if (m.version !== this.tlsVersion) {
      const old = this.agent;
      this.agent = new HttpsAgent({
        keepAlive: true,
        maxSockets: this.cfg.maxConcurrentRequests * 2,
        ...(m.ca === undefined ? {} : { ca: m.ca }),
        ...(m.cert === undefined ? {} : { cert: m.cert }),
        ...(m.key === undefined ? {} : { key: m.key }),
        rejectUnauthorized: !opts.insecureSkipVerify,
      });
      if (this.tlsVersion !== 0) {
        this.hooks.log?.info({ caFile: opts.caFile, certFile: opts.certFile }, 'tls: the changed CA / client certificate files are used for new connections');
        // requests in flight on the old agent's sockets finish; its idle sockets go at once
        setTimeout(() => old.destroy(), this.cfg.requestTimeoutMs).unref();
      } else {
        old.destroy();
      }
      this.tlsVersion = m.version;
    }
    return this.agent;
  }

  /** Logs a delivery problem once per change per endpoint (again after a minute), and the recovery. */
  private report(ep: Endpoint, error: string | undefined): void {
    const log = this.hooks.log;
    if (log === undefined) return;
    const key = `${ep.host}:${ep.port}`;
    const last = this.problems.get(key);
    if (error === undefined) {
      if (last !== undefined) {
        this.problems.delete(key);
        log.info({ endpoint: key }, 'enrichment endpoint accepts batches again');
      }
      return;
    }
    const now = Date.now();
    if (last !== undefined && last.error === error && now - last.at < 60_000) return;
    this.problems.set(key, { error, at: now });
    log.error({ endpoint: key, serverName: ep.serverName, error }, 'cannot deliver to enrichment; the batches are kept and retried');
  }

  start(): void {
    if (this.cfg.tls?.insecureSkipVerify === true) this.hooks.log?.warn({}, 'tls.insecureSkipVerify is true: the enrichment certificate is not verified (for tests only)');
    const svc = this.cfg.service;
    if (svc === undefined) return;
    const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
    if (svc.dnsServers !== undefined) resolver.setServers(svc.dnsServers);
    const resolve = async (): Promise<void> => {
      try {
        const ips = await resolver.resolve4(svc.name);
        const old = new Map(this.list.map((e) => [`${e.host}:${e.port}`, e]));
        // the Service's addresses are verified against its name (an IP is not in a Service certificate)
        const serverName = this.cfg.tls?.serverName ?? svc.name;
        const fresh = ips.sort().map((ip) => old.get(`${ip}:${svc.port}`) ?? { host: ip, port: svc.port, unhealthyUntil: 0, serverName });
        if (fresh.length > 0) this.list = [...fresh, ...this.staticEndpoints()];
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
    // zstd: the framed body for endpoints that read frames, one frame for the others; each made once.
    // gzip: always framed, since every gzip reader reads a body of several members whole.
    let single: Promise<Uint8Array> | undefined;
    let framed: Promise<Uint8Array> | undefined;
    const bodyFor = (ep: Endpoint): Promise<Uint8Array> => {
      if (this.cfg.compression === 'none' || (this.cfg.compression === 'zstd' && ep.zstdFrames !== true)) return (single ??= this.compress(raw));
      return (framed ??= this.compressFramed(raw));
    };
    let attempt = 0;
    while (!this.stopped) {
      const ep = this.pick();
      if (ep === undefined) {
        this.hooks.onRetry('no_endpoint');
        await this.sleep(this.backoff(attempt++));
        continue;
      }
      const r = await this.attempt(ep, await bodyFor(ep));
      if (r.kind === 'ok') {
        this.tlsSuspect = false;
        this.report(ep, undefined);
        this.hooks.onAttempt('ok');
        return r;
      }
      if (r.kind === 'failure') {
        this.hooks.onAttempt('failure');
        return r;
      }
      this.hooks.onAttempt('retryable');
      const reason = r.error.startsWith('status') || r.error === 'stale_socket' ? r.error.split(':')[0] ?? r.error : r.error.startsWith('tls') ? 'tls' : 'connection';
      this.hooks.onRetry(reason);
      if (r.error === 'stale_socket') continue;
      if (reason === 'tls') this.tlsSuspect = true;
      // 429/5xx are backpressure, counted in the metrics; what needs an operator is logged
      if (reason === 'tls' || reason === 'connection' || reason === 'status_401' || reason === 'status_403') this.report(ep, r.error);
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
    if (this.cfg.compression === 'zstd') return zstdP(raw, { pledgedSrcSize: raw.byteLength });
    return raw;
  }

  /**
   * Frames H_i, R_i per resource (one zstd stream, or one gzip file of members that name their
   * lengths, level 1): the enrichment service keeps the R frames compressed through to its export.
   */
  private async compressFramed(raw: Uint8Array): Promise<Uint8Array> {
    const frames = this.cfg.compression === 'gzip' ? await encodeGzipFramedLogs(raw) : await encodeZstdFramedLogs(raw);
    return frames.length === 1 ? (frames[0] as Buffer) : Buffer.concat(frames);
  }

  private async attempt(ep: Endpoint, body: Uint8Array): Promise<AttemptResult> {
    const headers: Record<string, string | number> = { 'content-type': 'application/x-protobuf', 'content-length': body.length };
    if (this.cfg.compression !== 'none') headers['content-encoding'] = this.cfg.compression;
    let agent: HttpAgent | HttpsAgent;
    try {
      agent = await this.currentAgent();
    } catch (e) {
      const t = this.cfg.tls;
      return { kind: 'retryable', error: `tls: the files cannot be read (tls.caFile ${t?.caFile ?? '-'}, tls.certFile ${t?.certFile ?? '-'}, tls.keyFile ${t?.keyFile ?? '-'}): ${(e as Error).message}`, endpointFault: false };
    }
    const tlsHint = (e: NodeJS.ErrnoException): string => {
      const t = this.cfg.tls;
      const name = ep.serverName ?? ep.host;
      if (e.code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `the enrichment certificate is not valid for the name ${name} (set tls.serverName, or add ${name} to the certificate's SANs)`;
      if (e.code === 'CERT_HAS_EXPIRED') return 'the enrichment certificate has expired';
      if (e.code?.startsWith('ERR_SSL_') === true || e.code === 'EPROTO') return 'the TLS handshake failed (is the endpoint serving HTTPS? does it accept this client certificate?)';
      return `the enrichment certificate is not trusted by ${t?.caFile === undefined ? 'the system CAs (set tls.caFile)' : `tls.caFile ${t.caFile}`}`;
    };
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: AttemptResult): void => {
        if (!settled) {
          settled = true;
          resolve(r);
        }
      };
      const options: RequestOptions & { servername?: string } = { host: ep.host, port: ep.port, method: 'POST', path: this.cfg.path, headers, agent, timeout: this.cfg.requestTimeoutMs };
      if (this.cfg.tls !== undefined && ep.serverName !== undefined) options.servername = ep.serverName;
      const req = this.send(
        options,
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            if (chunks.length < 16) chunks.push(c);
          });
          res.on('error', (e) => finish({ kind: 'retryable', error: `response: ${e.message}`, endpointFault: true }));
          res.on('end', () => {
            const s = res.statusCode ?? 0;
            if (s >= 200 && s < 300) {
              ep.zstdFrames = res.headers[ZSTD_FRAMES_HEADER] === '1';
              finish({ kind: 'ok' });
            }
            else if (s === 401 || s === 403) {
              // A refused client certificate (mTLS) is a configuration problem to fix, not bad data: the batch
              // is kept and retried (the endpoint avoided for a while) rather than dropped.
              const why = statusMessage(Buffer.concat(chunks), res.headers['content-type']);
              finish({ kind: 'retryable', error: `status_${s}: enrichment refused this client${this.cfg.tls?.certFile === undefined ? ' (no tls.certFile is set)' : ` certificate tls.certFile ${this.cfg.tls.certFile}`}: ${why}`, endpointFault: true });
            } else if (s === 429 || s === 408 || s >= 500) {
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
        if (!stale && TLS_ERROR.test(e.code ?? '')) {
          finish({ kind: 'retryable', error: `tls: ${tlsHint(e)}: ${e.code ?? ''} ${e.message}`, endpointFault: true });
          return;
        }
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
export type { Exporter, ExportResult, ExporterHooks, ExporterLog };
