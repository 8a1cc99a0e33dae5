// Config schemas for the pieces every component shares (queue, exporter, retry, TLS), so enrichment,
// trace-receiver and the collector embed the same keys, defaults and docs:
//   const schema = defineConfig({ queue: queueConfig(), exporter: exporterConfig(), … })
import { s } from './config.ts';
import type { Infer } from './config.ts';
import { SextantError } from './errors.ts';
import { createFileExporter } from './file-exporter.ts';
import { createOtlpGrpcExporter } from './otlp-grpc.ts';
import { createOtlpHttpExporter } from './otlp-http.ts';
import { createRetryPolicy } from './retry.ts';
import { createSplunkHecExporter } from './splunk-hec.ts';
import { createDiskQueue } from './queue.ts';
import type { Exporter, ExportItem } from './exporter.ts';
import type { HecEvent } from './splunk-hec.ts';
import type { Logger } from './logger.ts';
import type { Queue } from './queue.ts';
import type { RetryPolicy } from './retry.ts';
import type { TlsOptions } from './tls.ts';

export function queueConfig(defaults: { dir?: string; maxBytes?: string } = {}) {
  return s.object({
    dir: s.string({ default: defaults.dir ?? '/var/lib/sextant/queue', description: 'Directory of the durable queue (the PVC mount).' }),
    maxBytes: s.bytes({ default: defaults.maxBytes ?? '2Gi', min: 1024 * 1024, description: 'Disk bound of the queue; when reached, ingest answers 429 with Retry-After.' }),
    deadLetterMaxBytes: s.bytes({ default: '256Mi', description: 'Disk bound of the dead-letter store; beyond it, dead letters are dropped and counted.' }),
    fullRetryAfter: s.duration({ default: '1s', description: 'Retry-After hint given to senders while the queue is full.' }),
  }, { description: 'Durable queue.' });
}

export function retryConfig() {
  return s.object({
    initialInterval: s.duration({ default: '1s', description: 'First backoff ceiling.' }),
    maxInterval: s.duration({ default: '30s', description: 'Largest backoff ceiling.' }),
    multiplier: s.number({ default: 2, min: 1, max: 10, description: 'Backoff growth per attempt.' }),
    jitter: s.number({ default: 1, min: 0, max: 1, description: 'Random fraction of the backoff (1 = full jitter).' }),
    maxElapsedTime: s.duration({ default: '0', description: 'Give up (dead-letter) after this long; 0 = retry forever while the queue holds.' }),
  }, { description: 'Retry with exponential backoff and full jitter.' });
}

export function tlsConfig() {
  return s.object({
    caFile: s.optionalString({ description: 'PEM CA bundle trusted in addition to the system CAs (NODE_EXTRA_CA_CERTS also works).' }),
    certFile: s.optionalString({ description: 'Client certificate (PEM) for mTLS.' }),
    keyFile: s.optionalString({ description: 'Client key (PEM) for mTLS.' }),
    serverName: s.optionalString({ description: 'Name to verify instead of the endpoint host.' }),
    insecureSkipVerify: s.boolean({ default: false, description: 'Do not verify the server certificate (tests only).' }),
  }, { description: 'TLS to the backend.' });
}

/**
 * Metadata extraction rules (enrichment `metadata.rules`, trace receiver `kube.rules`), the shape
 * @sextant/kube-metadata's compileRules takes. Check each list with extractRuleIssues.
 */
export function extractRulesConfig(description: string) {
  return s.list(
    s.object({
      from: s.enum(['pod', 'namespace', 'node'] as const),
      source: s.enum(['label', 'annotation'] as const),
      key: s.optionalString(),
      keyRegex: s.optionalString(),
      tagName: s.optionalString(),
    }),
    { default: [], description },
  );
}

/** Problems of a rules list that the schema cannot see: exactly one of key and keyRegex; keyRegex compiles. */
export function extractRuleIssues(rules: readonly { key?: string | undefined; keyRegex?: string | undefined }[], path: string): string[] {
  const issues: string[] = [];
  rules.forEach((r, i) => {
    if ((r.key === undefined) === (r.keyRegex === undefined)) issues.push(`${path}[${i}]: ${JSON.stringify(r)} needs exactly one of key and keyRegex`);
    if (r.keyRegex !== undefined) {
      try {
        new RegExp(r.keyRegex);
      } catch (err) {
        issues.push(`${path}[${i}].keyRegex: ${JSON.stringify(r.keyRegex)} is not a valid regular expression (${(err as Error).message})`);
      }
    }
  });
  return issues;
}

const protocols = ['otlp_grpc', 'otlp_http', 'splunk_hec', 'file'] as const;

export function exporterConfig(defaults: { protocol?: (typeof protocols)[number] } = {}) {
  return s.object({
    protocol: s.enum(protocols, { default: defaults.protocol ?? 'otlp_grpc', description: 'Backend protocol.' }),
    endpoint: s.optionalString({ description: 'Backend URL: https://host:4317 (gRPC), https://host:4318 (OTLP/HTTP, /v1/<signal> appended), https://splunk:8088 (HEC).' }),
    headers: s.map(s.secret(), { description: 'Extra request headers; values may be "file:/path" or "env:NAME" (re-read on rotation).' }),
    compression: s.enum(['gzip', 'zstd', 'none'] as const, { default: 'gzip', description: 'Request compression (zstd: OTLP/HTTP only).' }),
    timeout: s.duration({ default: '10s', description: 'Per-request timeout.' }),
    concurrency: s.number({ default: 4, integer: true, min: 1, max: 256, description: 'Requests in flight.' }),
    insecure: s.boolean({ default: false, description: 'Plaintext gRPC for a host:port endpoint.' }),
    tls: tlsConfig(),
    retry: retryConfig(),
    splunk: s.object({
      token: s.secret({ description: 'HEC token: "file:/var/run/secrets/hec/token" or "env:NAME".' }),
      index: s.optionalString({ description: 'Default index.' }),
      source: s.optionalString({ description: 'Default source.' }),
      sourcetype: s.optionalString({ description: 'Default sourcetype.' }),
    }, { description: 'Splunk HEC settings (protocol splunk_hec).' }),
    file: s.object({
      path: s.optionalString({ description: 'Output file; {signal} is replaced (protocol file).' }),
      maxBytes: s.bytes({ default: '100Mi', description: 'Rotate past this size.' }),
      maxFiles: s.number({ default: 5, integer: true, min: 1, max: 1000, description: 'Rotated files kept.' }),
    }, { description: 'File exporter settings (protocol file).' }),
  }, { description: 'Where data goes.' });
}

export type QueueConfig = Infer<ReturnType<typeof queueConfig>>;
export type RetryConfig = Infer<ReturnType<typeof retryConfig>>;
export type TlsConfig = Infer<ReturnType<typeof tlsConfig>>;
export type ExporterConfig = Infer<ReturnType<typeof exporterConfig>>;

export function retryPolicyFromConfig(c: RetryConfig): RetryPolicy {
  return createRetryPolicy({
    initialMs: c.initialInterval, maxMs: Math.max(c.maxInterval, c.initialInterval), multiplier: c.multiplier, jitter: c.jitter,
    maxElapsedMs: c.maxElapsedTime === 0 ? undefined : c.maxElapsedTime,
  });
}

export function queueFromConfig(c: QueueConfig, logger?: Logger): Promise<Queue> {
  return createDiskQueue({
    dir: c.dir, maxBytes: c.maxBytes, deadLetterMaxBytes: c.deadLetterMaxBytes, fullRetryAfterMs: c.fullRetryAfter,
    ...(logger === undefined ? {} : { logger }),
  });
}

function tlsOptions(c: TlsConfig): TlsOptions {
  return { caFile: c.caFile, certFile: c.certFile, keyFile: c.keyFile, serverName: c.serverName, insecureSkipVerify: c.insecureSkipVerify };
}

export interface ExporterDeps {
  logger?: Logger;
  /** Required for protocol splunk_hec (built on @sextant/otlp by the component). */
  toHecEvents?: (signal: string, payload: Uint8Array) => HecEvent[] | Promise<HecEvent[]>;
  /** Optional for protocol file, e.g. OTLP/JSON lines. */
  fileTransform?: (item: ExportItem) => Uint8Array | string | Promise<Uint8Array | string>;
  /** Key prefix used in error messages. Default `exporter`. */
  path?: string;
}

/** Builds the configured exporter; cross-key rules fail with SEXTANT_CONFIG_INVALID naming the key. */
export function exporterFromConfig(c: ExporterConfig, deps: ExporterDeps = {}): Exporter {
  const p = deps.path ?? 'exporter';
  const invalid = (msg: string): SextantError => new SextantError('SEXTANT_CONFIG_INVALID', msg);
  const needEndpoint = (): string => {
    if (c.endpoint === undefined || c.endpoint === '') throw invalid(`${p}.endpoint: is required for protocol ${c.protocol}`);
    return c.endpoint;
  };
  const logger = deps.logger === undefined ? {} : { logger: deps.logger };
  switch (c.protocol) {
    case 'otlp_http':
      return createOtlpHttpExporter({ endpoint: needEndpoint(), headers: c.headers, compression: c.compression, timeoutMs: c.timeout, tls: tlsOptions(c.tls), ...logger });
    case 'otlp_grpc':
      if (c.compression === 'zstd') throw invalid(`${p}.compression: "zstd" is not supported by otlp_grpc (valid: gzip, none)`);
      return createOtlpGrpcExporter({ endpoint: needEndpoint(), insecure: c.insecure, headers: c.headers, compression: c.compression, timeoutMs: c.timeout, tls: tlsOptions(c.tls), ...logger });
    case 'splunk_hec': {
      if (c.splunk.token === undefined) throw invalid(`${p}.splunk.token: is required for protocol splunk_hec`);
      if (deps.toHecEvents === undefined) throw invalid(`${p}.protocol: splunk_hec is not available in this component (no HEC event mapping)`);
      if (c.compression === 'zstd') throw invalid(`${p}.compression: "zstd" is not supported by splunk_hec (valid: gzip, none)`);
      return createSplunkHecExporter({
        endpoint: needEndpoint(), token: c.splunk.token, toHecEvents: deps.toHecEvents, headers: c.headers, compression: c.compression,
        timeoutMs: c.timeout, tls: tlsOptions(c.tls),
        ...(c.splunk.index === undefined ? {} : { index: c.splunk.index }),
        ...(c.splunk.source === undefined ? {} : { source: c.splunk.source }),
        ...(c.splunk.sourcetype === undefined ? {} : { sourcetype: c.splunk.sourcetype }),
      });
    }
    case 'file':
      if (c.file.path === undefined) throw invalid(`${p}.file.path: is required for protocol file`);
      return createFileExporter({ path: c.file.path, maxBytes: c.file.maxBytes, maxFiles: c.file.maxFiles, ...(deps.fileTransform === undefined ? {} : { transform: deps.fileTransform }) });
  }
}
