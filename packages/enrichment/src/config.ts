// Enrichment configuration: one @sextant/pipeline schema gives parsing, defaults, environment
// overrides (SEXTANT_<PATH>, segments joined by `__`, e.g. SEXTANT_QUEUE__MAX_BYTES=2Gi),
// validation messages naming key, value and valid choices, and the docs table in README.md.
import { SextantError, configDocs, defineConfig, exporterConfig, extractRuleIssues, extractRulesConfig, loadConfig, s } from '@sextant/pipeline';
import type { Infer } from '@sextant/pipeline';

const enrichmentConfigSchema = defineConfig({
  listen: s.object({
    host: s.string({ default: '0.0.0.0', description: 'Listen address.' }),
    port: s.number({ integer: true, min: 0, max: 65535, default: 24321, description: 'OTLP/HTTP port (also /metrics, /healthz, /readyz); 0 picks a free port.' }),
    tls: s.object({
      certFile: s.optionalString({ description: 'Serving certificate (PEM); with keyFile the port speaks HTTPS only.' }),
      keyFile: s.optionalString({ description: 'Serving key (PEM).' }),
      clientCaFile: s.optionalString({ description: 'CA of client certificates (mTLS): POST /v1/logs and /v1/metrics answer 401 without a certificate signed by it; /healthz, /readyz and /metrics need none (probes and Prometheus cannot present one).' }),
      reloadInterval: s.duration({ min: 100, default: '10s', description: 'How often the three files are checked; changed files (a rotated Secret) are loaded without a restart.' }),
    }),
  }),
  limits: s.object({
    maxBodyBytes: s.bytes({ min: 1, default: '16Mi', description: 'Largest request body on the wire (compressed); above it 413.' }),
    maxDecodedBytes: s.bytes({ min: 1, default: '64Mi', description: 'Largest request body after decompression; above it 413 (a bomb stops expanding at this cap).' }),
  }),
  metadata: s.object({
    source: s.enum(['in-cluster', 'kubeconfig', 'file'] as const, { default: 'in-cluster', description: 'Where pods come from: the in-cluster API server, a kubeconfig, or a file of objects.' }),
    path: s.optionalString({ description: 'Kubeconfig or objects file (required for source kubeconfig and file).' }),
    context: s.optionalString({ description: 'Kubeconfig context (source kubeconfig).' }),
    watchFile: s.boolean({ default: false, description: 'Reload the objects file when it changes (source file).' }),
    clusterName: s.optionalString({ description: 'Value of k8s.cluster.name; omitted when unset.' }),
    waitForPod: s.duration({ max: 60_000, default: '2s', description: 'How long a request waits for an unknown pod before it passes through unenriched (the miss is counted).' }),
    deletedPodGrace: s.duration({ default: '10m', description: 'How long a deleted pod still enriches late logs.' }),
    exclude: s.object({
      annotation: s.string({ default: 'sextant.io/exclude', description: 'Annotation by which a pod or namespace opts out; its batches are dropped and counted.' }),
      value: s.string({ default: 'true', description: 'Annotation value that opts out.' }),
    }),
    rules: extractRulesConfig('Extraction rules { from, source, key | keyRegex, tagName? }; tagName defaults to k8s.<from>.<labels|annotations>.<key>, $1… with keyRegex.'),
    informers: s.object({
      namespaces: s.boolean({ default: true, description: 'Watch namespaces (namespace rules and exclusion).' }),
      nodes: s.boolean({ optional: true, description: 'Watch nodes; default: only when a rule reads nodes.' }),
      owners: s.boolean({ default: true, description: 'Watch ReplicaSets and Jobs to name Deployments and CronJobs.' }),
    }),
    useWellKnownLabels: s.boolean({ default: false, description: 'service.name from app.kubernetes.io/instance|name labels (semconv opt-in).' }),
  }),
  queue: s.object({
    dir: s.string({ default: '/var/lib/sextant/queue', description: 'Queue directory (the StatefulSet volume).' }),
    maxBytes: s.bytes({ min: 1024 * 1024, default: '1Gi', description: 'Disk bound of the queue; beyond it requests get 429 with Retry-After.' }),
    coalesceMaxBytes: s.bytes({ min: 1, default: '4Mi', description: 'Requests arriving while an enqueue is in flight are stored (and exported) as one batch up to this size.' }),
    coalesceMaxRequests: s.number({ integer: true, min: 1, max: 4096, default: 256, description: 'Most requests in one coalesced batch (1 = one batch per request).' }),
  }),
  exporter: s.object({
    protocol: s.enum(['otlp_http', 'otlp_grpc', 'splunk_hec', 'file'] as const, { default: 'otlp_http', description: 'Backend protocol.' }),
    endpoint: s.optionalString({ description: 'Backend URL: OTLP/HTTP base URL (…/v1/logs is appended), gRPC host:port / http(s)://host:port, or the Splunk HEC URL (https://splunk:8088; /services/collector/event is appended).' }),
    path: s.optionalString({ description: 'Output file of the file exporter ({signal} is replaced).' }),
    headers: s.map(s.secret(), { description: 'Extra headers; values inline, file:/path or env:NAME (Secrets).' }),
    compression: s.enum(['gzip', 'zstd', 'none'] as const, { default: 'gzip', description: 'Request compression (zstd: OTLP/HTTP only).' }),
    timeout: s.duration({ default: '10s', description: 'Per-request timeout.' }),
    insecure: s.boolean({ default: false, description: 'gRPC: plaintext for a bare host:port endpoint.' }),
    tls: s.object({
      caFile: s.optionalString({ description: 'Extra CA bundle (added to the system CAs).' }),
      certFile: s.optionalString({ description: 'Client certificate (mTLS).' }),
      keyFile: s.optionalString({ description: 'Client key (mTLS).' }),
      serverName: s.optionalString({ description: 'TLS server name override.' }),
      insecureSkipVerify: s.boolean({ default: false, description: 'Do not verify the backend certificate (testing only).' }),
    }),
    // The same keys as every component's exporter preset (@sextant/pipeline exporterConfig).
    splunk: exporterConfig().shape.splunk,
  }),
  export: s.object({
    concurrency: s.number({ integer: true, min: 1, max: 64, default: 4, description: 'Batches in flight to the backend.' }),
    drainOnShutdown: s.duration({ max: 600_000, default: '5s', description: 'On SIGTERM, after ingest has stopped, keep exporting until the queue is empty for at most this long; what is left stays on the volume and is sent after the next start.' }),
    linger: s.duration({ max: 10_000, default: '100ms', description: 'How long a batch under queue.coalesceMaxBytes waits for more before it is sent; 0 sends at once. Fewer, larger backend requests under a steady load, at the cost of this much delivery delay.' }),
    initialBackoff: s.duration({ default: '1s', description: 'First retry delay (full jitter).' }),
    maxBackoff: s.duration({ default: '30s', description: 'Largest retry delay.' }),
    maxElapsed: s.duration({ optional: true, description: 'Dead-letter a batch retried this long; unset = retry forever (the queue holds).' }),
    order: s.enum(['none', 'source'] as const, {
      default: 'none',
      description: 'source: batches of one source (the k8s.node.name of the sending collector, else the client address) reach the backend in the order they were accepted, never two in flight at once, other sources in parallel; for backends that reject out-of-order writes per stream. none: any order.',
    }),
  }),
  events: s.object({
    enabled: s.boolean({ default: false, description: 'Ship Kubernetes events (events.k8s.io/v1) as log records; one replica (the Lease holder) ships. Needs metadata.source in-cluster or kubeconfig.' }),
    namespaces: s.list(s.string(), { default: [], description: 'Namespaces to watch; empty = all namespaces.' }),
    startFrom: s.enum(['all', 'now'] as const, { default: 'all', description: 'With no checkpoint on the Lease yet: ship the events that exist already (all) or only new ones (now).' }),
    identity: s.optionalString({ description: 'Leader-election identity; default POD_NAME (else the host name) plus a random suffix.' }),
    lease: s.object({
      name: s.string({ default: 'sextant-events', description: 'Lease (coordination.k8s.io/v1) used for leader election and the checkpoint.' }),
      namespace: s.optionalString({ description: 'Namespace of the Lease; default POD_NAMESPACE, else the ServiceAccount namespace, else default.' }),
      duration: s.duration({ min: 1000, default: '15s', description: 'leaseDurationSeconds: a silent leader is replaced after this long.' }),
      renewInterval: s.duration({ min: 100, default: '5s', description: 'How often the leader renews the Lease.' }),
      renewDeadline: s.duration({ min: 100, default: '10s', description: 'The leader stops shipping when it could not renew for this long (below duration).' }),
      retryInterval: s.duration({ min: 100, default: '2s', description: 'How often a follower checks the Lease.' }),
    }),
    batch: s.object({
      maxEvents: s.number({ integer: true, min: 1, max: 10000, default: 500, description: 'Most events in one queue batch.' }),
      maxWait: s.duration({ min: 10, default: '1s', description: 'How long an event waits for its batch (each batch also writes the checkpoint).' }),
    }),
    dedupeWindow: s.duration({ default: '1h', description: 'An event uid with an unchanged count is not shipped again within this window.' }),
  }),
  audit: s.object({
    enabled: s.boolean({ default: false, description: 'Serve the API-server audit webhook (POST /v1/audit, audit.k8s.io/v1 EventList) on its own port.' }),
    listen: s.object({
      host: s.string({ default: '0.0.0.0', description: 'Audit webhook listen address.' }),
      port: s.number({ integer: true, min: 0, max: 65535, default: 24322, description: 'Audit webhook port; 0 picks a free port.' }),
    }),
    token: s.secret({ description: 'Bearer token the API server must send (its webhook kubeconfig user token); inline, file:/path or env:NAME.' }),
    tls: s.object({
      certFile: s.optionalString({ description: 'Serving certificate (HTTPS).' }),
      keyFile: s.optionalString({ description: 'Serving key.' }),
      clientCaFile: s.optionalString({ description: 'CA of client certificates: with it, a client certificate is required (mTLS).' }),
    }),
    maxBodyBytes: s.bytes({ min: 1024, default: '64Mi', description: 'Largest audit batch body; above it 413.' }),
  }),
  log: s.object({
    level: s.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const, { default: 'info', description: 'Log level.' }),
  }),
  runtime: s.object({
    externalMemoryInHeapLimit: s.boolean({
      default: true,
      description:
        'Process entry only (sextant enrichment, main.ts): set V8\'s --external-memory-accounted-in-global-limit, so Buffer memory counts toward the heap limit instead of forcing a full GC every ~64 MiB of Buffers; about 1.6x records per CPU-second, RSS under load about +300 MiB (bench/README.md "enrichment").',
    }),
  }),
  shutdownGrace: s.duration({ default: '20s', description: 'How long shutdown lets requests in flight finish before closing connections.' }),
});

type EnrichmentConfig = Infer<typeof enrichmentConfigSchema>;

function bad(issues: string[]): never {
  throw new SextantError('SEXTANT_CONFIG_INVALID', issues.join('\n  '));
}

/** Checks that span keys (the schema checks each key alone). */
function crossCheck(cfg: EnrichmentConfig): EnrichmentConfig {
  const issues: string[] = [];
  const md = cfg.metadata;
  if (md.source !== 'in-cluster' && md.path === undefined) issues.push(`metadata.path: undefined is not a file path (required when metadata.source is ${md.source})`);
  issues.push(...extractRuleIssues(md.rules, 'metadata.rules'));
  const exp = cfg.exporter;
  if (exp.protocol === 'file' && exp.path === undefined) issues.push('exporter.path: undefined is not a file path (required when exporter.protocol is file)');
  if (exp.protocol !== 'file' && exp.endpoint === undefined) issues.push(`exporter.endpoint: undefined is not a URL (required when exporter.protocol is ${exp.protocol})`);
  if ((exp.protocol === 'otlp_grpc' || exp.protocol === 'splunk_hec') && exp.compression === 'zstd') issues.push(`exporter.compression: "zstd" is not one of gzip, none (for exporter.protocol ${exp.protocol})`);
  if (exp.protocol === 'splunk_hec' && exp.splunk.token === undefined) issues.push('exporter.splunk.token: undefined is not a secret (required when exporter.protocol is splunk_hec; inline, file:/path or env:NAME)');
  const ev = cfg.events;
  if (ev.enabled && md.source === 'file') issues.push('events.enabled: true needs the API server (metadata.source in-cluster or kubeconfig, not file)');
  if (ev.lease.renewDeadline >= ev.lease.duration) issues.push(`events.lease.renewDeadline: ${ev.lease.renewDeadline} ms is not below events.lease.duration (${ev.lease.duration} ms); valid: shorter, so a leader stops before another may start`);
  if (ev.lease.renewInterval >= ev.lease.renewDeadline) issues.push(`events.lease.renewInterval: ${ev.lease.renewInterval} ms is not below events.lease.renewDeadline (${ev.lease.renewDeadline} ms)`);
  const lt = cfg.listen.tls;
  if ((lt.certFile === undefined) !== (lt.keyFile === undefined)) issues.push(`listen.tls: certFile ${JSON.stringify(lt.certFile)} and keyFile ${JSON.stringify(lt.keyFile)} go together (set both for HTTPS, or neither)`);
  if (lt.clientCaFile !== undefined && lt.certFile === undefined) issues.push(`listen.tls.clientCaFile: ${JSON.stringify(lt.clientCaFile)} (mTLS) needs listen.tls.certFile and keyFile`);
  const au = cfg.audit;
  if ((au.tls.certFile === undefined) !== (au.tls.keyFile === undefined)) issues.push('audit.tls: certFile and keyFile go together');
  if (au.tls.clientCaFile !== undefined && au.tls.certFile === undefined) issues.push('audit.tls.clientCaFile: mTLS needs audit.tls.certFile and keyFile');
  if (au.token !== undefined && au.tls.certFile === undefined) issues.push('audit.token: a bearer token needs audit.tls.certFile and keyFile (the API server sends a kubeconfig token only over HTTPS)');
  if (au.enabled && au.token === undefined && au.tls.clientCaFile === undefined) issues.push('audit.enabled: true needs audit.token or audit.tls.clientCaFile (the webhook never runs unauthenticated)');
  if (cfg.limits.maxDecodedBytes < cfg.limits.maxBodyBytes) {
    issues.push(`limits.maxDecodedBytes: ${cfg.limits.maxDecodedBytes} is below limits.maxBodyBytes (${cfg.limits.maxBodyBytes}); valid: at least that`);
  }
  if (issues.length > 0) bad(issues);
  return cfg;
}

interface LoadEnrichmentConfigOptions {
  /** YAML file. */
  readonly file?: string | undefined;
  /** Environment read for SEXTANT_* overrides. Default process.env. */
  readonly env?: Record<string, string | undefined>;
  /** Values set in code; highest precedence. Same shape as the YAML. */
  readonly overrides?: Record<string, unknown>;
}

/**
 * File → environment → overrides → defaults, validated. Throws SextantError SEXTANT_CONFIG_INVALID
 * / SEXTANT_CONFIG_UNKNOWN_KEY / SEXTANT_CONFIG_FILE_UNREADABLE naming every bad key.
 */
function loadEnrichmentConfig(options: LoadEnrichmentConfigOptions = {}): EnrichmentConfig {
  return crossCheck(
    loadConfig({
      schema: enrichmentConfigSchema,
      file: options.file,
      env: options.env ?? process.env,
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    }),
  );
}

/** Validates a config object (no file, no environment) and fills in every default. Idempotent. */
function resolveEnrichmentConfig(input: Record<string, unknown> | EnrichmentConfig = {}): EnrichmentConfig {
  return loadEnrichmentConfig({ env: {}, overrides: input });
}

/** The Markdown table of every key (README.md "Configuration" is generated from it). */
function enrichmentConfigDocs(): string {
  return configDocs(enrichmentConfigSchema);
}

export { enrichmentConfigDocs, enrichmentConfigSchema, loadEnrichmentConfig, resolveEnrichmentConfig };
export type { EnrichmentConfig, LoadEnrichmentConfigOptions };
