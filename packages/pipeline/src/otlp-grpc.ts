// OTLP gRPC exporter on @grpc/grpc-js with raw-bytes methods: the payload is already an
// Export*ServiceRequest, so serialize/deserialize are the identity.
// Retryable codes per the OTLP spec ("OTLP/gRPC Throttling" and "Failures"): CANCELLED, DEADLINE_EXCEEDED,
// ABORTED, OUT_OF_RANGE, UNAVAILABLE, DATA_LOSS, and RESOURCE_EXHAUSTED only when the server sent RetryInfo.
// The RetryInfo delay comes from the `grpc-status-details-bin` trailer (google.rpc.Status).
import { Client, Metadata, credentials, status as Status } from '@grpc/grpc-js';
import type { ChannelCredentials, ServiceError } from '@grpc/grpc-js';
import { SextantError } from './errors.ts';
import { headerReader } from './secrets.ts';
import { tlsReader } from './tls.ts';
import { retryable } from './exporter.ts';
import { fields, partialSuccess } from './proto.ts';
import type { ExportResult, Exporter } from './exporter.ts';
import type { SecretSource } from './config.ts';
import type { TlsMaterial, TlsOptions } from './tls.ts';
import type { Logger } from './logger.ts';

export interface OtlpGrpcExporterOptions {
  /** `https://host:4317` (TLS), `http://host:4317` (plaintext) or `host:4317` (TLS unless `insecure`). */
  endpoint: string;
  /** Plaintext for a bare `host:port` endpoint. Default false. */
  insecure?: boolean;
  headers?: Record<string, SecretSource | undefined>;
  /** Default `gzip`. */
  compression?: 'none' | 'gzip';
  /** Default 10000. */
  timeoutMs?: number;
  tls?: TlsOptions;
  logger?: Logger;
}

export const grpcServicePaths: Record<string, string> = {
  logs: '/opentelemetry.proto.collector.logs.v1.LogsService/Export',
  metrics: '/opentelemetry.proto.collector.metrics.v1.MetricsService/Export',
  traces: '/opentelemetry.proto.collector.trace.v1.TraceService/Export',
};

const RETRYABLE = new Set<number>([Status.CANCELLED, Status.DEADLINE_EXCEEDED, Status.ABORTED, Status.OUT_OF_RANGE, Status.UNAVAILABLE, Status.DATA_LOSS]);
const RETRY_INFO_URL = 'type.googleapis.com/google.rpc.RetryInfo';

/** Delay in ms from a google.rpc.Status's RetryInfo detail, if any. */
export function retryDelayFromStatusDetails(details: Uint8Array): number | undefined {
  for (const [f, wt, v] of fields(details)) {
    if (f !== 3 || wt !== 2 || typeof v === 'number') continue; // Status.details (repeated Any)
    let typeUrl = '';
    let value: Uint8Array | undefined;
    for (const [af, awt, av] of fields(v)) {
      if (af === 1 && awt === 2 && typeof av !== 'number') typeUrl = Buffer.from(av).toString('utf8');
      if (af === 2 && awt === 2 && typeof av !== 'number') value = av;
    }
    if (typeUrl !== RETRY_INFO_URL) continue;
    let seconds = 0;
    let nanos = 0;
    for (const [rf, rwt, rv] of fields(value ?? new Uint8Array())) {
      if (rf !== 1 || rwt !== 2 || typeof rv === 'number') continue; // RetryInfo.retry_delay (Duration)
      for (const [df, dwt, dv] of fields(rv)) {
        if (dwt !== 0 || typeof dv !== 'number') continue;
        if (df === 1) seconds = dv;
        if (df === 2) nanos = dv;
      }
    }
    return seconds * 1000 + Math.round(nanos / 1e6);
  }
  return undefined;
}

function parseTarget(endpoint: string, insecure: boolean): { address: string; tls: boolean } {
  const m = /^(https?):\/\/([^/]+)\/?$/.exec(endpoint);
  if (m?.[1] !== undefined && m[2] !== undefined) return { address: m[2], tls: m[1] === 'https' };
  return { address: endpoint, tls: !insecure };
}

export function createOtlpGrpcExporter(options: OtlpGrpcExporterOptions): Exporter {
  const target = parseTarget(options.endpoint, options.insecure ?? false);
  const headers = headerReader(options.headers);
  const tls = tlsReader(options.tls);
  const timeoutMs = options.timeoutMs ?? 10_000;
  let client: Client | undefined;
  let clientVersion = -1;

  const getClient = async (): Promise<Client> => {
    let creds: ChannelCredentials;
    let version = 0;
    if (target.tls) {
      const m: TlsMaterial = await tls();
      version = m.version;
      if (client !== undefined && version === clientVersion) return client;
      creds = credentials.createSsl(
        m.ca === undefined ? null : Buffer.from(m.ca.join('\n')),
        m.key ?? null,
        m.cert ?? null,
        m.rejectUnauthorized ? {} : { rejectUnauthorized: false, checkServerIdentity: () => undefined },
      );
    } else {
      if (client !== undefined) return client;
      creds = credentials.createInsecure();
    }
    client?.close(); // TLS files rotated: reconnect with the new material
    const channelOptions: Record<string, string | number> = {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': 16 * 1024 * 1024,
    };
    if ((options.compression ?? 'gzip') === 'gzip') channelOptions['grpc.default_compression_algorithm'] = 2;
    const sn = options.tls?.serverName;
    if (sn !== undefined) channelOptions['grpc.ssl_target_name_override'] = sn;
    client = new Client(target.address, creds, channelOptions);
    clientVersion = version;
    return client;
  };

  return {
    name: 'otlp_grpc',
    async export(item): Promise<ExportResult> {
      const path = grpcServicePaths[item.signal];
      if (path === undefined) {
        return { kind: 'failure', error: new SextantError('SEXTANT_PIPELINE_EXPORT_UNSUPPORTED_SIGNAL', `otlp_grpc cannot export signal "${item.signal}" (valid: logs, metrics, traces)`) };
      }
      let c: Client;
      const md = new Metadata();
      try {
        c = await getClient();
        for (const [k, v] of Object.entries(await headers())) md.set(k, v);
      } catch (err) {
        return retryable(err as Error, undefined);
      }
      return new Promise<ExportResult>((resolve) => {
        c.makeUnaryRequest<Buffer, Buffer>(
          path,
          (b) => b,
          (b) => b,
          Buffer.from(item.payload.buffer, item.payload.byteOffset, item.payload.byteLength),
          md,
          { deadline: Date.now() + timeoutMs },
          (err: ServiceError | null, response?: Buffer) => {
            if (err === null) {
              const partial = response === undefined ? undefined : partialSuccess(response);
              if (partial !== undefined) options.logger?.warn({ endpoint: target.address, signal: item.signal, ...partial }, 'otlp_grpc: backend accepted the request but rejected part of it');
              resolve({ kind: 'ok' });
              return;
            }
            let delay: number | undefined;
            const bin = err.metadata?.get('grpc-status-details-bin')[0];
            if (bin !== undefined && typeof bin !== 'string') {
              try {
                delay = retryDelayFromStatusDetails(bin);
              } catch (e) {
                options.logger?.warn({ err: e }, 'otlp_grpc: bad grpc-status-details-bin');
              }
            }
            const error = new SextantError('SEXTANT_PIPELINE_EXPORT_GRPC_STATUS',
              `${target.address}${path} answered ${Status[err.code] ?? err.code}: ${err.details}`, { cause: err });
            if (RETRYABLE.has(err.code) || (err.code === Status.RESOURCE_EXHAUSTED && delay !== undefined)) resolve(retryable(error, delay));
            else resolve({ kind: 'failure', error });
          },
        );
      });
    },
    shutdown() {
      client?.close();
      client = undefined;
      return Promise.resolve();
    },
  };
}
