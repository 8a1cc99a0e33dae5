// TLS material of a receiver, read once at start. With clientCaFile the receiver requires and
// verifies client certificates (mTLS).
import { readFileSync } from 'node:fs';
import { TraceReceiverError } from './errors.ts';

interface ServerTlsConfig {
  /** PEM certificate chain of the server; TLS is on when it and keyFile are set. */
  readonly certFile?: string | undefined;
  /** PEM private key of the server. */
  readonly keyFile?: string | undefined;
  /** PEM CA bundle; when set, clients must present a certificate it signed (mTLS). */
  readonly clientCaFile?: string | undefined;
}

interface ServerTlsMaterial {
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly clientCa: Buffer | undefined;
}

function readPem(path: string, what: string, key: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TraceReceiverError('SEXTANT_TRACES_TLS_FILE', `${key} (${what}) ${JSON.stringify(path)} cannot be read: ${(err as Error).message}; give a readable PEM file`, { cause: err });
  }
}

function loadServerTls(cfg: ServerTlsConfig | undefined, prefix: string): ServerTlsMaterial | undefined {
  if (cfg?.certFile === undefined || cfg.keyFile === undefined) return undefined;
  return {
    cert: readPem(cfg.certFile, 'certificate', `${prefix}.certFile`),
    key: readPem(cfg.keyFile, 'private key', `${prefix}.keyFile`),
    clientCa: cfg.clientCaFile === undefined ? undefined : readPem(cfg.clientCaFile, 'client CA bundle', `${prefix}.clientCaFile`),
  };
}

export { loadServerTls };
export type { ServerTlsConfig, ServerTlsMaterial };
