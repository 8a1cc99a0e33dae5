// Configuration of the trace receiver: every key is optional and its default is written once,
// in DEFAULTS below (README.md "Configuration" lists them). resolveTraceReceiverConfig merges
// the user's object over the defaults and validates as it goes; every problem names the key,
// the bad value and what would be valid.
import type { ServerTlsConfig } from './tls.ts';
import { TraceReceiverError } from './errors.ts';

const MiB = 1024 * 1024;

interface ListenerConfig {
  /** Serve this receiver. */
  readonly enabled: boolean;
  readonly host: string;
  /** 0 picks a free port (tests). */
  readonly port: number;
  /** TLS; with clientCaFile, mTLS. Default off. */
  readonly tls: ServerTlsConfig | undefined;
}

interface TraceReceiverConfig {
  /** OTLP gRPC. Default enabled on 0.0.0.0:4317, 16 MiB messages. */
  readonly grpc: ListenerConfig & {
    /** Largest request after decompression; bigger ones get RESOURCE_EXHAUSTED (not retryable). */
    readonly maxMessageBytes: number;
  };
  /** OTLP/HTTP. Default enabled on 0.0.0.0:4318, 16 MiB on the wire, 64 MiB decompressed. */
  readonly http: ListenerConfig & { readonly maxBodyBytes: number; readonly maxDecodedBytes: number };
  /** /metrics, /healthz, /readyz. Default 0.0.0.0:8888. */
  readonly telemetry: { readonly host: string; readonly port: number };
  readonly association: {
    /** CIDRs of proxies whose client-address header is believed. Default [] (header ignored). */
    readonly trustedProxies: readonly string[];
    /** Header / gRPC metadata key carrying the client address. Default `x-forwarded-for`. */
    readonly clientAddressHeader: string;
    /** Bound on the wait for a pod the cache does not know yet. Default 2000 ms. */
    readonly waitForPodMs: number;
  };
  /** Kubernetes metadata (kube-metadata's createMetadataCache options). Default in-cluster. */
  readonly kube: {
    readonly enabled: boolean;
    readonly source:
      | { readonly kind: 'in-cluster' }
      | { readonly kind: 'kubeconfig'; readonly path: string; readonly context?: string }
      | { readonly kind: 'file'; readonly path: string; readonly watch?: boolean };
    readonly clusterName: string | undefined;
    /** Passed through to createMetadataCache (rules, exclude, informers, …). */
    readonly options: Readonly<Record<string, unknown>>;
  };
  readonly exporter: {
    /** `grpc` or `http` (OTLP/HTTP protobuf). Default grpc. */
    readonly protocol: 'grpc' | 'http';
    /** e.g. `https://backend:4317` (grpc) or `https://backend:4318` (http; /v1/traces is appended). Required. */
    readonly endpoint: string;
    readonly headers: Readonly<Record<string, string>>;
    /** Per-export timeout. Default 10000 ms. */
    readonly timeoutMs: number;
    /** gzip the export. Default true. */
    readonly compression: 'gzip' | 'none';
    readonly tls: {
      /** Plain-text connection (only for http:// endpoints). Default: from the endpoint's scheme. */
      readonly insecure: boolean | undefined;
      readonly caFile: string | undefined;
      readonly certFile: string | undefined;
      readonly keyFile: string | undefined;
    };
  };
  /** Durable queue (pipeline createDiskQueue). Default off: clients get the backend's outcome. */
  readonly queue: { readonly enabled: boolean; readonly dir: string; readonly maxBytes: number };
  readonly limits: {
    /** Direct mode: bytes waiting for export + in flight; beyond it RESOURCE_EXHAUSTED / 429. Default 64 MiB. */
    readonly maxPendingBytes: number;
    /** Parallel exports (direct) or export loops (queue). Default 4. */
    readonly exportConcurrency: number;
    /** Bytes of coalesced requests per export. Default 4 MiB. */
    readonly maxBatchBytes: number;
    /** Retry hint in RetryInfo / Retry-After. Default 1000 ms. */
    readonly retryAfterMs: number;
  };
  readonly selfTracing: { readonly enabled: boolean; readonly endpoint: string; readonly serviceName: string };
  /** Graceful shutdown: grpc tryShutdown / fastify close, then forced after this. Default 10000 ms. */
  readonly shutdownTimeoutMs: number;
  readonly log: { readonly level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent' };
}

const DEFAULTS = {
  grpc: { enabled: true, host: '0.0.0.0', port: 4317, maxMessageBytes: 16 * MiB },
  http: { enabled: true, host: '0.0.0.0', port: 4318, maxBodyBytes: 16 * MiB, maxDecodedBytes: 64 * MiB },
  telemetry: { host: '0.0.0.0', port: 8888 },
  association: { trustedProxies: [] as string[], clientAddressHeader: 'x-forwarded-for', waitForPodMs: 2000 },
  kube: { enabled: true, source: { kind: 'in-cluster' as const } },
  exporter: { protocol: 'grpc' as const, timeoutMs: 10_000, compression: 'gzip' as const },
  queue: { enabled: false, dir: '/var/lib/sextant/traces-queue', maxBytes: 1024 * MiB },
  limits: { maxPendingBytes: 64 * MiB, exportConcurrency: 4, maxBatchBytes: 4 * MiB, retryAfterMs: 1000 },
  selfTracing: { enabled: false, endpoint: '', serviceName: 'sextant-trace-receiver' },
  shutdownTimeoutMs: 10_000,
  log: { level: 'info' as const },
};

type Obj = Record<string, unknown>;

function fail(key: string, value: unknown, valid: string): never {
  throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `${key} is ${JSON.stringify(value)}; valid: ${valid}`);
}

function obj(parent: Obj, key: string, path: string): Obj {
  const v = parent[key];
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail(path, v, 'an object');
  return v as Obj;
}

function known(o: Obj, path: string, keys: readonly string[]): void {
  for (const k of Object.keys(o)) if (!keys.includes(k)) fail(`${path}.${k}`, o[k], `a known key of ${path}: ${keys.join(', ')}`);
}

function bool(o: Obj, key: string, path: string, dflt: boolean): boolean {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') fail(`${path}.${key}`, v, 'true or false');
  return v;
}

function str(o: Obj, key: string, path: string, dflt: string): string {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string') fail(`${path}.${key}`, v, 'a string');
  return v;
}

function optStr(o: Obj, key: string, path: string): string | undefined {
  const v = o[key];
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v === '') fail(`${path}.${key}`, v, 'a non-empty string');
  return v;
}

function int(o: Obj, key: string, path: string, dflt: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) fail(`${path}.${key}`, v, `an integer from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(o: Obj, key: string, path: string, dflt: T, values: readonly T[]): T {
  const v = o[key];
  if (v === undefined) return dflt;
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) fail(`${path}.${key}`, v, values.join(' | '));
  return v as T;
}

function tlsOf(o: Obj, path: string): ServerTlsConfig | undefined {
  if (o['tls'] === undefined) return undefined;
  const t = obj(o, 'tls', `${path}.tls`);
  known(t, `${path}.tls`, ['certFile', 'keyFile', 'clientCaFile']);
  const certFile = optStr(t, 'certFile', `${path}.tls`);
  const keyFile = optStr(t, 'keyFile', `${path}.tls`);
  if (certFile === undefined || keyFile === undefined) fail(`${path}.tls`, t, 'an object with certFile and keyFile (and clientCaFile for mTLS)');
  return { certFile, keyFile, clientCaFile: optStr(t, 'clientCaFile', `${path}.tls`) };
}

const PORT_MAX = 65535;

/** Validates `input` (a parsed YAML/JSON object) and fills in every default. */
function resolveTraceReceiverConfig(input: unknown): TraceReceiverConfig {
  if (input === undefined || input === null) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) fail('config', input, 'an object');
  const root = input as Obj;
  known(root, 'config', ['grpc', 'http', 'telemetry', 'association', 'kube', 'exporter', 'queue', 'limits', 'selfTracing', 'shutdownTimeoutMs', 'log']);
  const D = DEFAULTS;

  const g = obj(root, 'grpc', 'grpc');
  known(g, 'grpc', ['enabled', 'host', 'port', 'maxMessageBytes', 'tls']);
  const h = obj(root, 'http', 'http');
  known(h, 'http', ['enabled', 'host', 'port', 'maxBodyBytes', 'maxDecodedBytes', 'tls']);
  const t = obj(root, 'telemetry', 'telemetry');
  known(t, 'telemetry', ['host', 'port']);
  const a = obj(root, 'association', 'association');
  known(a, 'association', ['trustedProxies', 'clientAddressHeader', 'waitForPodMs']);
  const proxies = a['trustedProxies'] ?? D.association.trustedProxies;
  if (!Array.isArray(proxies) || proxies.some((p) => typeof p !== 'string')) fail('association.trustedProxies', proxies, 'a list of CIDRs, e.g. [10.0.0.0/8]');

  const k = obj(root, 'kube', 'kube');
  known(k, 'kube', ['enabled', 'source', 'clusterName', 'options']);
  const s = k['source'] === undefined ? D.kube.source : obj(k, 'source', 'kube.source');
  const kind = oneOf(s as Obj, 'kind', 'kube.source', 'in-cluster', ['in-cluster', 'kubeconfig', 'file'] as const);
  let source: TraceReceiverConfig['kube']['source'];
  if (kind === 'in-cluster') source = { kind };
  else {
    const path = optStr(s, 'path', 'kube.source');
    if (path === undefined) fail('kube.source.path', undefined, `a file path (required for kind ${kind})`);
    if (kind === 'kubeconfig') {
      const context = optStr(s, 'context', 'kube.source');
      source = context === undefined ? { kind, path } : { kind, path, context };
    } else source = { kind, path, watch: bool(s, 'watch', 'kube.source', true) };
  }

  const e = obj(root, 'exporter', 'exporter');
  known(e, 'exporter', ['protocol', 'endpoint', 'headers', 'timeoutMs', 'compression', 'tls']);
  const endpoint = str(e, 'endpoint', 'exporter', '');
  if (!/^https?:\/\/[^/]+/.test(endpoint)) fail('exporter.endpoint', endpoint, 'an http:// or https:// URL of the backend, e.g. https://otel-gateway:4317');
  const headers = obj(e, 'headers', 'exporter.headers');
  for (const [hk, hv] of Object.entries(headers)) if (typeof hv !== 'string') fail(`exporter.headers.${hk}`, hv, 'a string');
  const et = obj(e, 'tls', 'exporter.tls');
  known(et, 'exporter.tls', ['insecure', 'caFile', 'certFile', 'keyFile']);

  const q = obj(root, 'queue', 'queue');
  known(q, 'queue', ['enabled', 'dir', 'maxBytes']);
  const l = obj(root, 'limits', 'limits');
  known(l, 'limits', ['maxPendingBytes', 'exportConcurrency', 'maxBatchBytes', 'retryAfterMs']);
  const st = obj(root, 'selfTracing', 'selfTracing');
  known(st, 'selfTracing', ['enabled', 'endpoint', 'serviceName']);
  const selfEnabled = bool(st, 'enabled', 'selfTracing', D.selfTracing.enabled);
  const selfEndpoint = str(st, 'endpoint', 'selfTracing', D.selfTracing.endpoint);
  if (selfEnabled && !/^https?:\/\//.test(selfEndpoint)) fail('selfTracing.endpoint', selfEndpoint, 'an http:// or https:// OTLP gRPC endpoint when selfTracing.enabled is true');
  const lg = obj(root, 'log', 'log');
  known(lg, 'log', ['level']);

  return {
    grpc: {
      enabled: bool(g, 'enabled', 'grpc', D.grpc.enabled),
      host: str(g, 'host', 'grpc', D.grpc.host),
      port: int(g, 'port', 'grpc', D.grpc.port, 0, PORT_MAX),
      maxMessageBytes: int(g, 'maxMessageBytes', 'grpc', D.grpc.maxMessageBytes, 1024),
      tls: tlsOf(g, 'grpc'),
    },
    http: {
      enabled: bool(h, 'enabled', 'http', D.http.enabled),
      host: str(h, 'host', 'http', D.http.host),
      port: int(h, 'port', 'http', D.http.port, 0, PORT_MAX),
      maxBodyBytes: int(h, 'maxBodyBytes', 'http', D.http.maxBodyBytes, 1024),
      maxDecodedBytes: int(h, 'maxDecodedBytes', 'http', D.http.maxDecodedBytes, 1024),
      tls: tlsOf(h, 'http'),
    },
    telemetry: { host: str(t, 'host', 'telemetry', D.telemetry.host), port: int(t, 'port', 'telemetry', D.telemetry.port, 0, PORT_MAX) },
    association: {
      trustedProxies: proxies as string[],
      clientAddressHeader: str(a, 'clientAddressHeader', 'association', D.association.clientAddressHeader).toLowerCase(),
      waitForPodMs: int(a, 'waitForPodMs', 'association', D.association.waitForPodMs, 0),
    },
    kube: {
      enabled: bool(k, 'enabled', 'kube', D.kube.enabled),
      source,
      clusterName: optStr(k, 'clusterName', 'kube'),
      options: obj(k, 'options', 'kube.options'),
    },
    exporter: {
      protocol: oneOf(e, 'protocol', 'exporter', D.exporter.protocol, ['grpc', 'http'] as const),
      endpoint,
      headers: headers as Record<string, string>,
      timeoutMs: int(e, 'timeoutMs', 'exporter', D.exporter.timeoutMs, 1),
      compression: oneOf(e, 'compression', 'exporter', D.exporter.compression, ['gzip', 'none'] as const),
      tls: {
        insecure: et['insecure'] === undefined ? undefined : bool(et, 'insecure', 'exporter.tls', false),
        caFile: optStr(et, 'caFile', 'exporter.tls'),
        certFile: optStr(et, 'certFile', 'exporter.tls'),
        keyFile: optStr(et, 'keyFile', 'exporter.tls'),
      },
    },
    queue: {
      enabled: bool(q, 'enabled', 'queue', D.queue.enabled),
      dir: str(q, 'dir', 'queue', D.queue.dir),
      maxBytes: int(q, 'maxBytes', 'queue', D.queue.maxBytes, MiB),
    },
    limits: {
      maxPendingBytes: int(l, 'maxPendingBytes', 'limits', D.limits.maxPendingBytes, 1024),
      exportConcurrency: int(l, 'exportConcurrency', 'limits', D.limits.exportConcurrency, 1, 256),
      maxBatchBytes: int(l, 'maxBatchBytes', 'limits', D.limits.maxBatchBytes, 1024),
      retryAfterMs: int(l, 'retryAfterMs', 'limits', D.limits.retryAfterMs, 0),
    },
    selfTracing: { enabled: selfEnabled, endpoint: selfEndpoint, serviceName: str(st, 'serviceName', 'selfTracing', D.selfTracing.serviceName) },
    shutdownTimeoutMs: int(root, 'shutdownTimeoutMs', 'config', D.shutdownTimeoutMs, 0),
    log: { level: oneOf(lg, 'level', 'log', D.log.level, ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const) },
  };
}

export { DEFAULTS as TRACE_RECEIVER_DEFAULTS, resolveTraceReceiverConfig };
export type { ListenerConfig, TraceReceiverConfig };
