// The `metrics` section of the node-collector config (issue 6 "Metrics"); resolveConfig in ../config.ts calls this.
import { collectorError } from '../errors.ts';

interface MetricsConfig {
  /** Default true once the section is present (an absent section collects no metrics). */
  enabled?: boolean;
  /** Scrape and send interval. Default 30. */
  intervalSeconds?: number;
  /** Default `/v1/metrics` on the same enrichment endpoints as the logs. */
  path?: string;
  /** Host metrics from a mounted /proc and /sys. `true` = defaults; default true. */
  host?: boolean | {
    enabled?: boolean;
    /** Default `/proc`; `/host/proc` in the chart. */
    procRoot?: string;
    /** Default `/sys`; `/host/sys` in the chart. */
    sysRoot?: string;
    /** Where the host's `/` is mounted; filesystem metrics are read only when this is set. */
    rootfs?: string;
  };
  /** Pod and container metrics from the kubelet's /stats/summary. `true` = defaults; default false. */
  kubelet?: boolean | {
    enabled?: boolean;
    /** Default `https://<env HOST_IP or NODE_IP or nodeName>:<port>`. */
    endpoint?: string;
    /** Default 10250. */
    port?: number;
    /** Default false. */
    insecureSkipVerify?: boolean;
    /** Default `/var/run/secrets/kubernetes.io/serviceaccount/token`, re-read on every scrape. */
    tokenFile?: string;
    /** Default `/var/run/secrets/kubernetes.io/serviceaccount/ca.crt`. */
    caFile?: string;
    /** Default 10000. */
    timeoutMs?: number;
  };
}

interface ResolvedMetricsConfig {
  intervalMs: number;
  path: string;
  host: { procRoot: string; sysRoot: string; rootfs: string | undefined } | false;
  kubelet: { endpoint: string; insecureSkipVerify: boolean; tokenFile: string; caFile: string; timeoutMs: number } | false;
}

const SA = '/var/run/secrets/kubernetes.io/serviceaccount';

function bad(key: string, value: unknown, valid: string): never {
  throw collectorError('SEXTANT_COLLECTOR_CONFIG_INVALID', `${key}=${JSON.stringify(value)}; valid: ${valid}`);
}

function section(key: string, v: unknown, keys: string[], def: boolean): Record<string, unknown> | false {
  if (v === undefined) v = def;
  if (v === false) return false;
  if (v === true) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) bad(key, v, `true, false or {${keys.join(', ')}}`);
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!keys.includes(k)) bad(`${key}.${k}`, o[k], keys.join(', '));
  if (o['enabled'] === false) return false;
  if (o['enabled'] !== undefined && o['enabled'] !== true) bad(`${key}.enabled`, o['enabled'], 'true, false');
  return o;
}

function str(key: string, v: unknown, def: string): string {
  if (v === undefined) return def;
  if (typeof v !== 'string' || v === '') bad(key, v, 'a non-empty string');
  return v;
}

function bool(key: string, v: unknown, def: boolean): boolean {
  if (v === undefined) return def;
  if (typeof v !== 'boolean') bad(key, v, 'true, false');
  return v;
}

function num(key: string, v: unknown, def: number, min: number): number {
  if (v === undefined) return def;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < min) bad(key, v, `a number >= ${min}`);
  return v;
}

/** `input` is the camelized `metrics` value; `nodeName` the resolved k8s.node.name. */
function resolveMetricsConfig(input: unknown, env: NodeJS.ProcessEnv, nodeName: string): ResolvedMetricsConfig | false {
  const m = section('metrics', input ?? false, ['enabled', 'intervalSeconds', 'path', 'host', 'kubelet'], false);
  if (m === false) return false;
  const h = section('metrics.host', m['host'], ['enabled', 'procRoot', 'sysRoot', 'rootfs'], true);
  const k = section('metrics.kubelet', m['kubelet'], ['enabled', 'endpoint', 'port', 'insecureSkipVerify', 'tokenFile', 'caFile', 'timeoutMs'], false);
  let kubelet: ResolvedMetricsConfig['kubelet'] = false;
  if (k !== false) {
    const port = num('metrics.kubelet.port', k['port'], 10250, 1);
    const ip = env['HOST_IP'] ?? env['NODE_IP'];
    const host = ip !== undefined && ip !== '' ? (ip.includes(':') ? `[${ip}]` : ip) : nodeName;
    const endpoint = str('metrics.kubelet.endpoint', k['endpoint'], `https://${host}:${port}`);
    if (!/^https:\/\/[^/]+\/?$/.test(endpoint)) bad('metrics.kubelet.endpoint', endpoint, 'https://host:port');
    kubelet = {
      endpoint,
      insecureSkipVerify: bool('metrics.kubelet.insecureSkipVerify', k['insecureSkipVerify'], false),
      tokenFile: str('metrics.kubelet.tokenFile', k['tokenFile'], `${SA}/token`),
      caFile: str('metrics.kubelet.caFile', k['caFile'], `${SA}/ca.crt`),
      timeoutMs: num('metrics.kubelet.timeoutMs', k['timeoutMs'], 10000, 1),
    };
  }
  return {
    intervalMs: num('metrics.intervalSeconds', m['intervalSeconds'], 30, 0.01) * 1000,
    path: str('metrics.path', m['path'], '/v1/metrics'),
    host:
      h === false
        ? false
        : {
            procRoot: str('metrics.host.procRoot', h['procRoot'], '/proc'),
            sysRoot: str('metrics.host.sysRoot', h['sysRoot'], '/sys'),
            rootfs: h['rootfs'] === undefined ? undefined : str('metrics.host.rootfs', h['rootfs'], '/'),
          },
    kubelet,
  };
}

export { resolveMetricsConfig };
export type { MetricsConfig, ResolvedMetricsConfig };
