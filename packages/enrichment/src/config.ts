// Enrichment configuration: every key optional, defaults in one place (ENRICHMENT_DEFAULTS),
// documented in README.md ("Configuration"). Files are YAML; environment variables
// SEXTANT_ENRICHMENT_<PATH> override single keys (see ENV_OVERRIDES).
import { readFile } from 'node:fs/promises';
import type { ExtractRule, MetadataSource } from '@sextant/kube-metadata';
import { parse as parseYaml } from 'yaml';
import { EnrichmentError } from './errors.ts';

/** Where batches go after the queue. */
type ExporterConfig =
  | {
      /** OTLP/HTTP (protobuf) to `<endpoint>/v1/logs` and `/v1/metrics`. */
      type: 'otlp_http';
      endpoint: string;
      /** Extra request headers, e.g. an Authorization from a Secret (see headersFromEnv). */
      headers?: Record<string, string>;
      compression?: 'gzip' | 'none';
      timeoutMs?: number;
    }
  | { type: 'otlp_grpc'; endpoint: string; headers?: Record<string, string>; compression?: 'gzip' | 'none'; timeoutMs?: number; insecure?: boolean }
  | { type: 'file'; path: string };

interface EnrichmentConfig {
  listen: {
    /** Default `0.0.0.0`. */
    host: string;
    /** Default 24321; 0 picks a free port (tests). */
    port: number;
  };
  limits: {
    /** Largest request body on the wire. Default 16 MiB. */
    maxBodyBytes: number;
    /** Largest request body after decompression. Default 64 MiB. */
    maxDecodedBytes: number;
  };
  metadata: {
    /** Default in-cluster. */
    source: MetadataSource;
    /** Value of k8s.cluster.name. Default unset (attribute omitted). */
    clusterName?: string;
    /** How long a request waits for an unknown pod before passing through. Default 2000 ms. */
    waitForPodMs: number;
    /** How long a deleted pod stays answerable. Default 600000 ms (10 min). */
    deletedPodGraceMs: number;
    /** Pods or namespaces with this annotation = value are dropped. Default sextant.io/exclude = "true". */
    exclude: { annotation: string; value: string };
    /** Label/annotation extraction rules. Default none. */
    rules: ExtractRule[];
    /** Informers besides pods; each needs get/list/watch RBAC on its kind. Nodes default to on only when a rule reads nodes. */
    informers: { namespaces?: boolean; nodes?: boolean; owners?: boolean };
    /** service.name from app.kubernetes.io/instance|name labels (semconv opt-in). Default false. */
    useWellKnownLabels: boolean;
  };
  queue: {
    /** Queue directory (the StatefulSet's PVC). Default /var/lib/sextant/queue. */
    dir: string;
    /** Bound on queue bytes on disk; beyond it requests get 429. Default 1 GiB. */
    maxBytes: number;
  };
  exporter: ExporterConfig;
  export: {
    /** Batches exported concurrently. Default 4. */
    concurrency: number;
    /** Give up retrying (dead-letter) after this long. Default 0 = retry retryable failures forever. */
    maxElapsedMs: number;
  };
  log: { level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
  /** How long shutdown lets requests in flight finish. Default 20000 ms. */
  shutdownGraceMs: number;
}

/** Input shape: every key optional. */
type DeepPartial<T> = T extends readonly unknown[] ? T : T extends object ? { [K in keyof T]?: DeepPartial<T[K]> } : T;
type EnrichmentConfigInput = DeepPartial<Omit<EnrichmentConfig, 'exporter' | 'metadata'>> & {
  exporter?: ExporterConfig;
  metadata?: DeepPartial<Omit<EnrichmentConfig['metadata'], 'source'>> & { source?: MetadataSource };
};

const MiB = 1024 * 1024;

const ENRICHMENT_DEFAULTS: EnrichmentConfig = {
  listen: { host: '0.0.0.0', port: 24321 },
  limits: { maxBodyBytes: 16 * MiB, maxDecodedBytes: 64 * MiB },
  metadata: {
    source: { kind: 'in-cluster' },
    waitForPodMs: 2000,
    deletedPodGraceMs: 600_000,
    exclude: { annotation: 'sextant.io/exclude', value: 'true' },
    rules: [],
    informers: {},
    useWellKnownLabels: false,
  },
  queue: { dir: '/var/lib/sextant/queue', maxBytes: 1024 * MiB },
  exporter: { type: 'otlp_http', endpoint: 'http://localhost:4318' },
  export: { concurrency: 4, maxElapsedMs: 0 },
  log: { level: 'info' },
  shutdownGraceMs: 20_000,
};

export { ENRICHMENT_DEFAULTS };
export type { EnrichmentConfig, EnrichmentConfigInput, ExporterConfig };

// ---------------------------------------------------------------------------------------------
// Validation and loading

type Check = (value: unknown) => string | undefined; // undefined = valid, else "what would be valid"

const isInt = (min: number, max = Number.MAX_SAFE_INTEGER): Check => (v) =>
  typeof v === 'number' && Number.isInteger(v) && v >= min && v <= max ? undefined : `an integer from ${min} to ${max}`;
const isString: Check = (v) => (typeof v === 'string' && v !== '' ? undefined : 'a non-empty string');
const isBool: Check = (v) => (typeof v === 'boolean' ? undefined : 'true or false');
const oneOf = (...choices: string[]): Check => (v) => (typeof v === 'string' && choices.includes(v) ? undefined : `one of ${choices.map((c) => JSON.stringify(c)).join(', ')}`);

/** Scalar keys: path → check. Also the list of environment overrides (see envName). */
const SCALARS: Record<string, Check> = {
  'listen.host': isString,
  'listen.port': isInt(0, 65535),
  'limits.maxBodyBytes': isInt(1),
  'limits.maxDecodedBytes': isInt(1),
  'metadata.source.kind': oneOf('in-cluster', 'kubeconfig', 'file'),
  'metadata.source.path': isString,
  'metadata.source.context': isString,
  'metadata.clusterName': isString,
  'metadata.waitForPodMs': isInt(0, 60_000),
  'metadata.deletedPodGraceMs': isInt(0),
  'metadata.exclude.annotation': isString,
  'metadata.exclude.value': isString,
  'metadata.informers.namespaces': isBool,
  'metadata.informers.nodes': isBool,
  'metadata.informers.owners': isBool,
  'metadata.useWellKnownLabels': isBool,
  'queue.dir': isString,
  'queue.maxBytes': isInt(1024 * 1024),
  'exporter.type': oneOf('otlp_http', 'otlp_grpc', 'file'),
  'exporter.endpoint': isString,
  'exporter.path': isString,
  'exporter.compression': oneOf('gzip', 'none'),
  'exporter.timeoutMs': isInt(1),
  'exporter.insecure': isBool,
  'export.concurrency': isInt(1, 64),
  'export.maxElapsedMs': isInt(0),
  'log.level': oneOf('trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'),
  'shutdownGraceMs': isInt(0),
};
const OBJECTS = new Set(['listen', 'limits', 'metadata', 'metadata.source', 'metadata.exclude', 'metadata.informers', 'queue', 'exporter', 'export', 'log']);
const SPECIAL = new Set(['metadata.rules', 'exporter.headers']);

/** `metadata.waitForPodMs` → `SEXTANT_ENRICHMENT_METADATA_WAIT_FOR_POD_MS`. */
function envName(path: string): string {
  return `SEXTANT_ENRICHMENT_${path.replace(/([a-z0-9])([A-Z])/g, '$1_$2').replace(/\./g, '_').toUpperCase()}`;
}

function configError(message: string): EnrichmentError {
  return new EnrichmentError('SEXTANT_ENRICHMENT_CONFIG', message);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function validate(value: unknown, path: string, where: string): void {
  if (!isPlainObject(value)) throw configError(`${where}: ${path === '' ? 'the config' : path} is ${JSON.stringify(value)}; valid: a mapping`);
  for (const [key, v] of Object.entries(value)) {
    const p = path === '' ? key : `${path}.${key}`;
    if (v === undefined) continue;
    if (OBJECTS.has(p)) validate(v, p, where);
    else if (p in SCALARS) {
      const valid = (SCALARS[p] as Check)(v);
      if (valid !== undefined) throw configError(`${where}: ${p} is ${JSON.stringify(v)}; valid: ${valid}`);
    } else if (p === 'metadata.rules') {
      if (!Array.isArray(v)) throw configError(`${where}: ${p} is ${JSON.stringify(v)}; valid: a list of { from, source, key | keyRegex, tagName? }`);
      v.forEach((rule, i) => {
        const r = rule as Record<string, unknown>;
        const bad = (k: string, valid: string): never => {
          throw configError(`${where}: ${p}[${i}].${k} is ${JSON.stringify(r[k])}; valid: ${valid}`);
        };
        if (!isPlainObject(rule)) throw configError(`${where}: ${p}[${i}] is ${JSON.stringify(rule)}; valid: a mapping`);
        if (!['pod', 'namespace', 'node'].includes(r.from as string)) bad('from', '"pod", "namespace", "node"');
        if (!['label', 'annotation'].includes(r.source as string)) bad('source', '"label", "annotation"');
        if ((r.key === undefined) === (r.keyRegex === undefined)) bad(r.key === undefined ? 'key' : 'keyRegex', 'exactly one of key and keyRegex');
        for (const k of Object.keys(r)) if (!['from', 'source', 'key', 'keyRegex', 'tagName'].includes(k)) bad(k, 'no such key (from, source, key, keyRegex, tagName)');
      });
    } else if (p === 'exporter.headers') {
      if (!isPlainObject(v) || !Object.values(v).every((h) => typeof h === 'string')) {
        throw configError(`${where}: ${p} is ${JSON.stringify(v)}; valid: a mapping of header name to string`);
      }
    } else {
      const known = [...OBJECTS, ...Object.keys(SCALARS), ...SPECIAL].filter((k) => k.startsWith(path === '' ? '' : `${path}.`)).map((k) => k.slice(path === '' ? 0 : path.length + 1).split('.')[0]);
      throw configError(`${where}: unknown key ${p}; valid keys here: ${[...new Set(known)].join(', ')}`);
    }
  }
}

function merge(base: unknown, over: unknown): unknown {
  if (!isPlainObject(base) || !isPlainObject(over)) return over === undefined ? base : over;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = merge(base[k], v);
  return out;
}

function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let node = target;
  for (const k of keys.slice(0, -1)) {
    if (!isPlainObject(node[k])) node[k] = {};
    node = node[k] as Record<string, unknown>;
  }
  node[keys[keys.length - 1] as string] = value;
}

/** Environment overrides as a partial config, with scalars converted from strings by the key's type. */
function envOverrides(env: NodeJS.ProcessEnv): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [path, check] of Object.entries(SCALARS)) {
    const raw = env[envName(path)];
    if (raw === undefined) continue;
    let value: unknown = raw;
    if (check(raw) !== undefined) {
      if (/^-?\d+$/.test(raw)) value = Number(raw);
      else if (raw === 'true' || raw === 'false') value = raw === 'true';
    }
    const valid = check(value);
    if (valid !== undefined) throw configError(`environment: ${envName(path)} (${path}) is ${JSON.stringify(raw)}; valid: ${valid}`);
    setPath(out, path, value);
  }
  return out;
}

/**
 * Merges user config → environment overrides → defaults, validating as it goes. A source
 * change resets the keys that belong to the other source kinds, and likewise the exporter.
 */
function resolveEnrichmentConfig(input: unknown = {}, env: NodeJS.ProcessEnv = {}, where = 'config'): EnrichmentConfig {
  validate(input, '', where);
  const fromEnv = envOverrides(env);
  validate(fromEnv, '', 'environment');
  const user = merge(input, fromEnv) as EnrichmentConfigInput;
  const merged = merge(ENRICHMENT_DEFAULTS, user) as EnrichmentConfig;
  // Variant objects are taken from the user as a whole, not merged with the default variant.
  if (user.metadata?.source !== undefined) merged.metadata.source = user.metadata.source;
  if (user.exporter !== undefined) merged.exporter = user.exporter;
  const src = merged.metadata.source as { kind: string; path?: unknown };
  if ((src.kind === 'kubeconfig' || src.kind === 'file') && typeof src.path !== 'string') {
    throw configError(`${where}: metadata.source.path is ${JSON.stringify(src.path)}; valid: a file path (required when metadata.source.kind is "${src.kind}")`);
  }
  const exp = merged.exporter as { type: string; endpoint?: unknown; path?: unknown };
  if (exp.type === 'file' ? typeof exp.path !== 'string' : typeof exp.endpoint !== 'string') {
    const key = exp.type === 'file' ? 'path' : 'endpoint';
    throw configError(`${where}: exporter.${key} is ${JSON.stringify(exp[key])}; valid: ${exp.type === 'file' ? 'a file path' : 'a URL'} (required when exporter.type is "${exp.type}")`);
  }
  if (merged.limits.maxDecodedBytes < merged.limits.maxBodyBytes) {
    throw configError(`${where}: limits.maxDecodedBytes is ${merged.limits.maxDecodedBytes}; valid: at least limits.maxBodyBytes (${merged.limits.maxBodyBytes})`);
  }
  return merged;
}

/** Reads a YAML config file and resolves it with the environment's overrides. */
async function loadEnrichmentConfig(path: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<EnrichmentConfig> {
  if (path === undefined) return resolveEnrichmentConfig({}, env);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw configError(`${path} cannot be read: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = parseYaml(text) ?? {};
  } catch (err) {
    throw configError(`${path} is not valid YAML: ${(err as Error).message}`);
  }
  return resolveEnrichmentConfig(parsed, env, path);
}

export { envName, loadEnrichmentConfig, resolveEnrichmentConfig };
