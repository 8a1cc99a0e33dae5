// Configuration: user values (YAML or object) → environment → defaults, validated as it is merged.
// YAML keys may be snake_case (start_at) or camelCase (startAt).
import { readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { parse as parseYaml } from 'yaml';
import { collectorError } from './errors.ts';
import { createFilter } from './paths.ts';
import { resolveJournaldConfig } from './journald/config.ts';
import type { JournaldConfig, ResolvedJournaldConfig } from './journald/config.ts';
import { resolveAuditLogConfig } from './auditlog/config.ts';
import type { AuditLogConfig, ResolvedAuditLogConfig } from './auditlog/config.ts';
import { resolveMetricsConfig } from './telemetry/config.ts';
import type { MetricsConfig, ResolvedMetricsConfig } from './telemetry/config.ts';

/** Matches a file by its pod path parts. Each field is a glob (`*`, `?`) or a `/regex/`; absent fields match all. */
interface Selector {
  namespace?: string;
  pod?: string;
  container?: string;
}

interface MultilineRule extends Selector {
  /** A record whose body matches this regex starts a new group. */
  firstLine: string;
  /** Default 1000. */
  flushAfterMs?: number;
}

interface NodeCollectorConfig {
  /** Root of the pod log tree. Default `/var/log/pods` (env SEXTANT_LOG_ROOT). */
  logRoot?: string;
  /** Value of k8s.node.name. Default env NODE_NAME, else the host name. */
  nodeName?: string;
  /** Where files present at startup without a checkpoint start. Files that appear later always start at 0. Default `beginning`. */
  startAt?: 'beginning' | 'end';
  /** Collect only files matching one of these. Default: all. */
  include?: Selector[];
  /** Never collect files matching one of these. Default: none (plus the collector's own pod, see excludeSelf). */
  exclude?: Selector[];
  /** Exclude the collector's own pod (env POD_NAMESPACE and POD_NAME). Default true. */
  excludeSelf?: boolean;
  /** Records longer than this are cut and flagged log.record.truncated. Default 1 MiB. */
  maxRecordBytes?: number;
  /** Size of each read. Default 256 KiB. */
  readBufferBytes?: number;
  /** Reading pauses while more record bytes than this are unacknowledged. Default 64 MiB. */
  maxInflightBytes?: number;
  /** Full rescan of the tree, repairing any missed watch event. Default 10000. */
  rescanIntervalMs?: number;
  /** Every open file is checked for new data this often, besides watch events. Default 1000. */
  pollIntervalMs?: number;
  /** A rotated or deleted file is closed once read to EOF and idle this long. Default 5000. */
  rotatedCloseAfterMs?: number;
  /** Bytes at the start of a file used to tell inode reuse and copies. Default 128. */
  fingerprintBytes?: number;
  /** Directory of the checkpoint file (a hostPath in Kubernetes). Default `/var/lib/sextant/node-collector` (env SEXTANT_CHECKPOINT_DIR). */
  checkpointDir?: string;
  /** Delay that coalesces checkpoint writes after acks. Default 200. */
  checkpointIntervalMs?: number;
  batch?: {
    /** Default 2000. */ maxRecords?: number;
    /** Uncompressed; default 1 MiB. */ maxBytes?: number;
    /** Default 200. */ maxAgeMs?: number;
  };
  /** Default `zstd`. */
  compression?: 'zstd' | 'gzip' | 'none';
  /** Static enrichment endpoints, `host:port` (env SEXTANT_ENDPOINTS, comma separated). */
  endpoints?: string[];
  /** Headless Service name whose A records are the enrichment endpoints (env SEXTANT_ENRICHMENT_SERVICE). */
  service?: {
    name: string;
    /** Default 24321. */ port?: number;
    /** Default 10000. */ resolveIntervalMs?: number;
    /** DNS servers (`ip` or `ip:port`) to ask instead of the system's; default: the system resolver's. */ dnsServers?: string[];
  };
  /**
   * HTTPS to the enrichment endpoints (`tls: {}` for the system CAs only). Files are re-read when they change.
   * serverName defaults to service.name for the Service's A records, else to each static endpoint's host.
   */
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string; insecureSkipVerify?: boolean; reloadIntervalMs?: number };
  /** Default `/v1/logs`. */
  path?: string;
  /** Default 10000. */
  requestTimeoutMs?: number;
  /** Default 4. */
  maxConcurrentRequests?: number;
  retry?: { initialMs?: number; maxMs?: number };
  /** An endpoint that failed is avoided this long. Default 5000. */
  unhealthyForMs?: number;
  multiline?: MultilineRule[];
  /** The /metrics, /healthz, /readyz server; `false` disables it. Default port 2020 on 0.0.0.0 (env SEXTANT_HTTP_PORT). */
  server?: { port?: number; host?: string } | false;
  /** Host and kubelet metrics sent to `/v1/metrics` (see src/telemetry/config.ts). Default: none. */
  metrics?: MetricsConfig;
  /** The node's systemd journal, read from its files (see src/journald/config.ts). Default: off. */
  journald?: JournaldConfig | boolean;
  /** API-server audit log files (--audit-log-path) on control-plane nodes (see src/auditlog/config.ts). Default: off. */
  auditLog?: AuditLogConfig | boolean;
}

interface ResolvedConfig {
  logRoot: string;
  nodeName: string;
  startAt: 'beginning' | 'end';
  include: Selector[];
  exclude: Selector[];
  maxRecordBytes: number;
  readBufferBytes: number;
  maxInflightBytes: number;
  rescanIntervalMs: number;
  pollIntervalMs: number;
  rotatedCloseAfterMs: number;
  fingerprintBytes: number;
  checkpointDir: string;
  checkpointIntervalMs: number;
  batch: { maxRecords: number; maxBytes: number; maxAgeMs: number };
  compression: 'zstd' | 'gzip' | 'none';
  endpoints: string[];
  service: { name: string; port: number; resolveIntervalMs: number; dnsServers: string[] | undefined } | undefined;
  tls: ResolvedTls | undefined;
  path: string;
  requestTimeoutMs: number;
  maxConcurrentRequests: number;
  retry: { initialMs: number; maxMs: number };
  unhealthyForMs: number;
  multiline: MultilineRule[];
  server: { port: number; host: string } | false;
  metrics: ResolvedMetricsConfig | false;
  journald: ResolvedJournaldConfig | false;
  auditLog: ResolvedAuditLogConfig | false;
}

const TOP_KEYS = new Set([
  'logRoot', 'nodeName', 'startAt', 'include', 'exclude', 'excludeSelf', 'maxRecordBytes', 'readBufferBytes', 'maxInflightBytes',
  'rescanIntervalMs', 'pollIntervalMs', 'rotatedCloseAfterMs', 'fingerprintBytes', 'checkpointDir', 'checkpointIntervalMs', 'batch',
  'compression', 'endpoints', 'service', 'tls', 'path', 'requestTimeoutMs', 'maxConcurrentRequests', 'retry', 'unhealthyForMs', 'multiline', 'server', 'metrics', 'journald', 'auditLog',
]);

function camel(k: string): string {
  return k.replace(/_([a-z])/g, (_m, c: string) => c.toUpperCase());
}

function camelize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(camelize);
  if (typeof v === 'object' && v !== null) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [camel(k), camelize(x)]));
  }
  return v;
}

function bad(key: string, value: unknown, valid: string): never {
  throw collectorError('SEXTANT_COLLECTOR_CONFIG_INVALID', `${key}=${JSON.stringify(value)}; valid: ${valid}`);
}

function num(key: string, v: unknown, def: number, min: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(key, v, `a number >= ${min}`);
  return v;
}

function str(key: string, v: unknown, def: string): string {
  if (v === undefined) return def;
  if (typeof v !== 'string' || v.length === 0) bad(key, v, 'a non-empty string');
  return v;
}

function selectors(key: string, v: unknown): Selector[] {
  if (v === undefined) return [];
  if (!Array.isArray(v)) bad(key, v, 'a list of {namespace?, pod?, container?}');
  return v.map((s: unknown, i) => {
    if (typeof s !== 'object' || s === null) bad(`${key}[${i}]`, s, '{namespace?, pod?, container?}');
    const o = s as Record<string, unknown>;
    const out: Selector = {};
    for (const [k, x] of Object.entries(o)) {
      if (k !== 'namespace' && k !== 'pod' && k !== 'container' && k !== 'firstLine' && k !== 'flushAfterMs') bad(`${key}[${i}].${k}`, x, 'namespace, pod, container');
      if (k === 'namespace' || k === 'pod' || k === 'container') out[k] = str(`${key}[${i}].${k}`, x, '');
    }
    return out;
  });
}

/** HTTPS to enrichment; undefined: plain HTTP. */
interface ResolvedTls {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
  /** Explicit name to verify; undefined: service.name for the Service's addresses, else the endpoint's host. */
  serverName: string | undefined;
  insecureSkipVerify: boolean;
  reloadIntervalMs: number;
}

const TLS_KEYS = ['caFile', 'certFile', 'keyFile', 'serverName', 'insecureSkipVerify', 'reloadIntervalMs'];

function resolveTls(v: unknown): ResolvedTls | undefined {
  if (v === undefined || v === null || v === false) return undefined;
  if (typeof v !== 'object' || Array.isArray(v)) bad('tls', v, `a mapping of ${TLS_KEYS.join(', ')} (tls: {} for HTTPS with the system CAs)`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TLS_KEYS.includes(k)) bad(`tls.${k}`, o[k], `one of the keys ${TLS_KEYS.join(', ')}`);
  const file = (k: string): string | undefined => (o[k] === undefined ? undefined : str(`tls.${k}`, o[k], ''));
  const skip = o['insecureSkipVerify'] ?? false;
  if (typeof skip !== 'boolean') bad('tls.insecureSkipVerify', skip, 'true, false');
  const tls: ResolvedTls = {
    caFile: file('caFile'),
    certFile: file('certFile'),
    keyFile: file('keyFile'),
    serverName: file('serverName'),
    insecureSkipVerify: skip,
    reloadIntervalMs: num('tls.reloadIntervalMs', o['reloadIntervalMs'], 10000, 100),
  };
  if ((tls.certFile === undefined) !== (tls.keyFile === undefined)) {
    bad(tls.certFile === undefined ? 'tls.keyFile' : 'tls.certFile', tls.certFile ?? tls.keyFile, 'set together with ' + (tls.certFile === undefined ? 'tls.certFile' : 'tls.keyFile') + ' (a client certificate and its key)');
  }
  return tls;
}

/** Merges user config, environment and defaults; throws SEXTANT_COLLECTOR_CONFIG_INVALID naming the bad value. */
function resolveConfig(input: NodeCollectorConfig | Record<string, unknown> = {}, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  const c = camelize(input) as Record<string, unknown>;
  for (const k of Object.keys(c)) if (!TOP_KEYS.has(k)) bad(k, c[k], [...TOP_KEYS].join(', '));
  const startAt = c['startAt'] ?? 'beginning';
  if (startAt !== 'beginning' && startAt !== 'end') bad('startAt', startAt, 'beginning, end');
  const compression = c['compression'] ?? 'zstd';
  if (compression !== 'zstd' && compression !== 'gzip' && compression !== 'none') bad('compression', compression, 'zstd, gzip, none');
  const exclude = selectors('exclude', c['exclude']);
  const excludeSelf = c['excludeSelf'] ?? true;
  if (typeof excludeSelf !== 'boolean') bad('excludeSelf', excludeSelf, 'true, false');
  if (excludeSelf && env['POD_NAMESPACE'] && env['POD_NAME']) exclude.push({ namespace: env['POD_NAMESPACE'], pod: env['POD_NAME'] });

  let endpoints: string[] = [];
  const ep = c['endpoints'] ?? (env['SEXTANT_ENDPOINTS'] ? env['SEXTANT_ENDPOINTS'].split(',').map((s) => s.trim()).filter((s) => s !== '') : undefined);
  if (ep !== undefined) {
    if (!Array.isArray(ep) || ep.some((e) => typeof e !== 'string' || !/^[^\s:]+:\d+$|^\[[0-9a-fA-F:]+\]:\d+$/.test(e))) bad('endpoints', ep, 'a list of "host:port"');
    endpoints = ep as string[];
  }
  let service: ResolvedConfig['service'];
  const svc = c['service'] ?? (env['SEXTANT_ENRICHMENT_SERVICE'] ? { name: env['SEXTANT_ENRICHMENT_SERVICE'] } : undefined);
  if (svc !== undefined) {
    if (typeof svc !== 'object' || svc === null) bad('service', svc, '{name, port?, resolveIntervalMs?}');
    const s = svc as Record<string, unknown>;
    let name = str('service.name', s['name'], '');
    let port = num('service.port', s['port'], 24321, 1);
    const m = /^(.*):(\d+)$/.exec(name);
    if (m !== null && s['port'] === undefined) {
      name = m[1] ?? name;
      port = Number(m[2]);
    }
    const dnsServers = s['dnsServers'];
    if (dnsServers !== undefined && (!Array.isArray(dnsServers) || dnsServers.some((d) => typeof d !== 'string'))) bad('service.dnsServers', dnsServers, 'a list of "ip" or "ip:port"');
    service = { name, port, resolveIntervalMs: num('service.resolveIntervalMs', s['resolveIntervalMs'], 10000, 10), dnsServers: dnsServers as string[] | undefined };
  }
  if (endpoints.length === 0 && service === undefined) bad('endpoints', undefined, 'at least one of endpoints or service');

  const batch = (c['batch'] ?? {}) as Record<string, unknown>;
  const retry = (c['retry'] ?? {}) as Record<string, unknown>;
  const multilineIn = c['multiline'] ?? [];
  if (!Array.isArray(multilineIn)) bad('multiline', multilineIn, 'a list of {namespace?, pod?, container?, firstLine, flushAfterMs?}');
  const multiline: MultilineRule[] = multilineIn.map((m: unknown, i) => {
    const o = (m ?? {}) as Record<string, unknown>;
    const sel = selectors(`multiline[${i}]`, [o])[0] ?? {};
    const firstLine = str(`multiline[${i}].firstLine`, o['firstLine'], '');
    try {
      new RegExp(firstLine);
    } catch {
      bad(`multiline[${i}].firstLine`, firstLine, 'a JavaScript regular expression');
    }
    return { ...sel, firstLine, flushAfterMs: num(`multiline[${i}].flushAfterMs`, o['flushAfterMs'], 1000, 1) };
  });
  let server: ResolvedConfig['server'];
  if (c['server'] === false) server = false;
  else {
    const s = (c['server'] ?? {}) as Record<string, unknown>;
    const envPort = env['SEXTANT_HTTP_PORT'] !== undefined ? Number(env['SEXTANT_HTTP_PORT']) : undefined;
    server = { port: num('server.port', s['port'] ?? envPort, 2020, 0), host: str('server.host', s['host'], '0.0.0.0') };
  }
  const include = selectors('include', c['include']);
  createFilter([...include, ...multiline], exclude); // throws SEXTANT_COLLECTOR_PATTERN_INVALID for a bad /regex/
  const maxRecordBytes = num('maxRecordBytes', c['maxRecordBytes'], 1 << 20, 16);
  const nodeName = str('nodeName', c['nodeName'] ?? env['NODE_NAME'], hostname());
  return {
    logRoot: str('logRoot', c['logRoot'] ?? env['SEXTANT_LOG_ROOT'], '/var/log/pods'),
    nodeName,
    startAt,
    include,
    exclude,
    maxRecordBytes,
    readBufferBytes: num('readBufferBytes', c['readBufferBytes'], 256 * 1024, 4096),
    maxInflightBytes: num('maxInflightBytes', c['maxInflightBytes'], 64 << 20, 1024),
    rescanIntervalMs: num('rescanIntervalMs', c['rescanIntervalMs'], 10000, 10),
    pollIntervalMs: num('pollIntervalMs', c['pollIntervalMs'], 1000, 10),
    rotatedCloseAfterMs: num('rotatedCloseAfterMs', c['rotatedCloseAfterMs'], 5000, 0),
    fingerprintBytes: num('fingerprintBytes', c['fingerprintBytes'], 128, 16),
    checkpointDir: str('checkpointDir', c['checkpointDir'] ?? env['SEXTANT_CHECKPOINT_DIR'], '/var/lib/sextant/node-collector'),
    checkpointIntervalMs: num('checkpointIntervalMs', c['checkpointIntervalMs'], 200, 0),
    batch: {
      maxRecords: num('batch.maxRecords', batch['maxRecords'], 2000, 1),
      maxBytes: num('batch.maxBytes', batch['maxBytes'], 1 << 20, 1024),
      maxAgeMs: num('batch.maxAgeMs', batch['maxAgeMs'], 200, 1),
    },
    compression,
    endpoints,
    service,
    tls: resolveTls(c['tls']),
    path: str('path', c['path'], '/v1/logs'),
    requestTimeoutMs: num('requestTimeoutMs', c['requestTimeoutMs'], 10000, 1),
    maxConcurrentRequests: num('maxConcurrentRequests', c['maxConcurrentRequests'], 4, 1),
    retry: { initialMs: num('retry.initialMs', retry['initialMs'], 100, 1), maxMs: num('retry.maxMs', retry['maxMs'], 5000, 1) },
    unhealthyForMs: num('unhealthyForMs', c['unhealthyForMs'], 5000, 0),
    multiline,
    server,
    metrics: resolveMetricsConfig(c['metrics'], env, nodeName),
    journald: resolveJournaldConfig(c['journald']),
    auditLog: resolveAuditLogConfig(c['auditLog']),
  };
}

/** Reads a YAML file (path from the argument or env SEXTANT_CONFIG; none means env and defaults only) and resolves it. */
async function loadConfig(path: string | undefined = process.env['SEXTANT_CONFIG'], env: NodeJS.ProcessEnv = process.env): Promise<ResolvedConfig> {
  if (path === undefined || path === '') return resolveConfig({}, env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    throw collectorError('SEXTANT_COLLECTOR_CONFIG_UNREADABLE', `${path} (${String(e)})`, e);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text);
  } catch (e) {
    throw collectorError('SEXTANT_COLLECTOR_CONFIG_INVALID', `${path} is not YAML (${String(e)})`, e);
  }
  if (parsed !== null && (typeof parsed !== 'object' || Array.isArray(parsed))) bad(path, parsed, 'a YAML mapping');
  return resolveConfig(parsed ?? {}, env);
}

export { resolveConfig, loadConfig };
export type { NodeCollectorConfig, ResolvedConfig, ResolvedTls, Selector, MultilineRule };
