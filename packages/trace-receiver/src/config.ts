// Configuration schema of the trace receiver, on @sextant/pipeline's config loader: one schema
// gives the parser, the defaults, the SEXTANT_* environment names and the README table
// (`configDocs(traceReceiverConfigSchema)`). Precedence: code overrides → env → YAML → defaults.
import { isIP } from 'node:net';
import { defineConfig, extractRuleIssues, extractRulesConfig, loadConfig, s } from '@sextant/pipeline';
import type { Infer } from '@sextant/pipeline';
import { TraceReceiverError } from './errors.ts';

const tlsSchema = s.object(
  {
    certFile: s.optionalString({ description: 'PEM certificate chain of the server. Setting certFile and keyFile turns TLS on.' }),
    keyFile: s.optionalString({ description: 'PEM private key of the server.' }),
    clientCaFile: s.optionalString({ description: 'PEM CA bundle; when set, clients must present a certificate it signed (mTLS).' }),
  },
  { description: 'TLS of this listener; off unless certFile and keyFile are set.' },
);

const traceReceiverConfigSchema = defineConfig({
  grpc: s.object({
    enabled: s.boolean({ default: true, description: 'Serve OTLP gRPC (TraceService/Export).' }),
    host: s.string({ default: '0.0.0.0', description: 'Listen address.' }),
    port: s.number({ default: 4317, integer: true, min: 0, max: 65535, description: 'Listen port (0 picks a free one).' }),
    maxMessageBytes: s.bytes({ default: '16Mi', min: 1024, description: 'Largest request after decompression; larger ones get RESOURCE_EXHAUSTED without RetryInfo (not retryable).' }),
    tls: tlsSchema,
  }),
  http: s.object({
    enabled: s.boolean({ default: true, description: 'Serve OTLP/HTTP POST /v1/traces (protobuf and JSON).' }),
    host: s.string({ default: '0.0.0.0', description: 'Listen address.' }),
    port: s.number({ default: 4318, integer: true, min: 0, max: 65535, description: 'Listen port (0 picks a free one).' }),
    maxBodyBytes: s.bytes({ default: '16Mi', min: 1024, description: 'Largest body on the wire (413 above it).' }),
    maxDecodedBytes: s.bytes({ default: '64Mi', min: 1024, description: 'Largest body after gzip/zstd decompression (413 above it).' }),
    tls: tlsSchema,
  }),
  telemetry: s.object({
    host: s.string({ default: '0.0.0.0', description: 'Listen address of /metrics, /healthz, /readyz.' }),
    port: s.number({ default: 8888, integer: true, min: 0, max: 65535, description: 'Listen port of /metrics, /healthz, /readyz.' }),
  }),
  association: s.object({
    trustedProxies: s.list(s.string(), { default: [], description: 'CIDRs of proxies whose client-address header is believed; empty: the header is never read.' }),
    clientAddressHeader: s.string({ default: 'x-forwarded-for', description: 'HTTP header / gRPC metadata key carrying the client address behind a trusted proxy.' }),
    waitForPodMs: s.duration({ default: '2s', description: 'Bound on the wait for a pod the metadata cache does not know yet (startup race).' }),
  }),
  kube: s.object({
    enabled: s.boolean({ default: true, description: 'Associate spans with pods from the Kubernetes API.' }),
    source: s.enum(['in-cluster', 'kubeconfig', 'file'] as const, { default: 'in-cluster', description: 'Where pods come from: the in-cluster service account, a kubeconfig file, or a YAML/JSON file of objects.' }),
    path: s.optionalString({ description: 'Kubeconfig path (source kubeconfig) or object file (source file).' }),
    context: s.optionalString({ description: 'Kubeconfig context (source kubeconfig).' }),
    watch: s.boolean({ default: true, description: 'Reload the object file when it changes (source file).' }),
    clusterName: s.optionalString({ description: 'Value of k8s.cluster.name; omitted when unset.' }),
    useWellKnownLabels: s.boolean({ default: false, description: 'Derive service.name from app.kubernetes.io/instance|name labels.' }),
    excludeAnnotation: s.string({ default: 'sextant.io/exclude', description: 'Spans of pods (or namespaces) with this annotation set to excludeValue are dropped (partial success).' }),
    excludeValue: s.string({ default: 'true', description: 'See excludeAnnotation.' }),
    // Same keys and semantics as the enrichment's metadata.rules (@sextant/kube-metadata's rules).
    rules: extractRulesConfig('Extraction rules { from, source, key | keyRegex, tagName? }; tagName defaults to k8s.<from>.<labels|annotations>.<key>, $1… with keyRegex. Node rules start a node watch (RBAC: nodes get/list/watch).'),
  }),
  exporter: s.object({
    type: s.enum(['otlp_grpc', 'otlp_http', 'file'] as const, { default: 'otlp_grpc', description: 'Backend protocol; file writes each request to exporter.file.path.' }),
    endpoint: s.optionalString({ description: 'Backend URL, e.g. https://otel-gateway:4317 (gRPC) or https://otel-gateway:4318 (HTTP; /v1/traces is appended). Required unless type is file.' }),
    headers: s.map(s.secret(), { description: 'Extra headers / gRPC metadata; values may be `file:/path` or `env:NAME`.' }),
    compression: s.enum(['gzip', 'none'] as const, { default: 'gzip', description: 'Compression of exports.' }),
    timeoutMs: s.duration({ default: '10s', min: 1, description: 'Timeout of one export.' }),
    insecure: s.boolean({ default: false, description: 'Plain text to a bare host:port gRPC endpoint.' }),
    tls: s.object({
      caFile: s.optionalString({ description: 'PEM bundle trusted besides the system CAs and NODE_EXTRA_CA_CERTS.' }),
      certFile: s.optionalString({ description: 'Client certificate (mTLS to the backend).' }),
      keyFile: s.optionalString({ description: 'Client key (mTLS to the backend).' }),
      serverName: s.optionalString({ description: 'Name to verify instead of the endpoint host.' }),
      insecureSkipVerify: s.boolean({ default: false, description: 'Skip certificate verification (tests only).' }),
    }),
    file: s.object({
      path: s.optionalString({ description: 'Output file of type file ({signal} becomes traces). Each request is appended as a 4-byte big-endian length and the ExportTraceServiceRequest protobuf, fdatasync\'d before the client is answered.' }),
      maxBytes: s.bytes({ default: '100Mi', min: 1024, description: 'Rotate the file past this size.' }),
      maxFiles: s.number({ default: 5, integer: true, min: 1, max: 1000, description: 'Rotated files kept (path.1 is the newest).' }),
    }),
  }),
  queue: s.object({
    enabled: s.boolean({ default: false, description: 'Durable queue: answer clients once spans are fsync\'d, export with retry. Off: clients get the backend\'s outcome (bounded in flight).' }),
    dir: s.string({ default: '/var/lib/sextant/traces-queue', description: 'Queue directory (a PVC).' }),
    maxBytes: s.bytes({ default: '1Gi', min: 1024 * 1024, description: 'Disk bound of the queue; when full, clients get RESOURCE_EXHAUSTED / 429 with a retry delay.' }),
    exportConcurrency: s.number({ default: 8, integer: true, min: 1, max: 256, description: 'Queue items exported in parallel (one request each) by the export loop.' }),
  }),
  export: s.object({
    concurrency: s.number({
      default: 1,
      integer: true,
      min: 1,
      max: 256,
      description:
        'Without the queue: exports in flight. Requests arriving meanwhile are merged into the next export, so one export in flight means the fewest, largest backend calls: 1.5x the spans per CPU-second of 2 (bench/README.md "traces"). Throughput is bounded by maxBatchBytes per backend round trip (4 MiB at 100 ms: ~160k spans/s); raise it for a slow, distant backend.',
    }),
    maxBatchBytes: s.bytes({ default: '4Mi', min: 1024, description: 'Without the queue: requests that arrive while every export is busy are merged into one export of at most this size.' }),
    maxPendingBytes: s.bytes({ default: '64Mi', min: 1024, description: 'Without the queue: bytes waiting for or in export; above it clients get RESOURCE_EXHAUSTED with RetryInfo / 429.' }),
    retryAfterMs: s.duration({ default: '1s', description: 'Retry delay sent in RetryInfo / Retry-After.' }),
    retryInitialMs: s.duration({ default: '1s', description: 'With the queue: first backoff ceiling (full jitter).' }),
    retryMaxMs: s.duration({ default: '30s', description: 'With the queue: largest backoff ceiling.' }),
  }),
  selfTracing: s.object({
    enabled: s.boolean({ default: false, description: 'Trace the receiver itself with @opentelemetry/sdk-node (its export path is never traced).' }),
    endpoint: s.optionalString({ description: 'OTLP gRPC endpoint of the receiver\'s own spans (required when enabled).' }),
    serviceName: s.string({ default: 'sextant-trace-receiver', description: 'service.name of the receiver\'s own spans.' }),
  }),
  runtime: s.object({
    externalMemoryInHeapLimit: s.boolean({
      default: true,
      description:
        'Process entry only (sextant trace-receiver, main.ts): start V8 with --external-memory-accounted-in-global-limit, so Buffer memory counts toward the heap limit instead of forcing a full GC every ~64 MiB of Buffers; about 1.3-1.6x spans per CPU-second, RSS under load +60-100 MiB (bench/README.md "traces").',
    }),
  }),
  shutdownTimeoutMs: s.duration({ default: '10s', description: 'Graceful shutdown: gRPC tryShutdown / HTTP close and export drain, then forced.' }),
  log: s.object({
    level: s.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, { default: 'info', description: 'Log level.' }),
  }),
});

type TraceReceiverConfig = Infer<typeof traceReceiverConfigSchema>;

function crossCheck(cfg: TraceReceiverConfig): TraceReceiverConfig {
  const bad = (key: string, value: unknown, valid: string): never => {
    throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', `${key} is ${JSON.stringify(value)}; valid: ${valid}`);
  };
  for (const [name, l] of [['grpc', cfg.grpc], ['http', cfg.http]] as const) {
    if ((l.tls.certFile === undefined) !== (l.tls.keyFile === undefined)) bad(`${name}.tls`, l.tls, 'both certFile and keyFile, or neither');
    if (l.tls.clientCaFile !== undefined && l.tls.certFile === undefined) bad(`${name}.tls.clientCaFile`, l.tls.clientCaFile, 'only together with certFile and keyFile (mTLS needs TLS)');
  }
  for (const c of cfg.association.trustedProxies) {
    const [addr = '', prefix] = c.split('/');
    const fam = isIP(addr);
    const max = fam === 4 ? 32 : 128;
    if (fam === 0 || (prefix !== undefined && !(Number.isInteger(Number(prefix)) && Number(prefix) >= 0 && Number(prefix) <= max))) {
      bad('association.trustedProxies', c, 'IP addresses or CIDRs, e.g. 10.0.0.0/8 or fd00::/8');
    }
  }
  const e = cfg.exporter;
  if (e.type === 'file' && e.file.path === undefined) bad('exporter.file.path', undefined, 'a file path (required when exporter.type is file)');
  if (e.type !== 'file' && !/^https?:\/\/[^/]+/.test(e.endpoint ?? '')) bad('exporter.endpoint', e.endpoint, `an http:// or https:// URL (required when exporter.type is ${e.type})`);
  const ruleIssues = extractRuleIssues(cfg.kube.rules, 'kube.rules');
  if (ruleIssues.length > 0) throw new TraceReceiverError('SEXTANT_TRACES_CONFIG', ruleIssues.join('\n  '));
  if (cfg.kube.enabled && cfg.kube.source !== 'in-cluster' && cfg.kube.path === undefined) bad('kube.path', undefined, `a file path (required when kube.source is ${cfg.kube.source})`);
  if (cfg.selfTracing.enabled && !/^https?:\/\//.test(cfg.selfTracing.endpoint ?? '')) bad('selfTracing.endpoint', cfg.selfTracing.endpoint, 'an http:// or https:// OTLP gRPC endpoint when selfTracing.enabled is true');
  return cfg;
}

interface LoadTraceReceiverConfigOptions {
  /** YAML file. */
  readonly file?: string | undefined;
  /** Environment read for SEXTANT_* overrides. Default process.env. */
  readonly env?: Record<string, string | undefined>;
  /** Values set in code; highest precedence. */
  readonly overrides?: Record<string, unknown>;
}

/** File → env → overrides → defaults, validated. Throws SextantError SEXTANT_CONFIG_* or TraceReceiverError SEXTANT_TRACES_CONFIG. */
function loadTraceReceiverConfig(options: LoadTraceReceiverConfigOptions = {}): TraceReceiverConfig {
  return crossCheck(
    loadConfig({
      schema: traceReceiverConfigSchema,
      file: options.file,
      env: options.env ?? process.env,
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    }),
  );
}

/** Validates a config object (no file, no environment) and fills in every default. Idempotent. */
function resolveTraceReceiverConfig(input: Record<string, unknown> | TraceReceiverConfig): TraceReceiverConfig {
  return loadTraceReceiverConfig({ env: {}, overrides: input });
}

export { loadTraceReceiverConfig, resolveTraceReceiverConfig, traceReceiverConfigSchema };
export type { LoadTraceReceiverConfigOptions, TraceReceiverConfig };
