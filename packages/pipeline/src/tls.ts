// TLS to backends. The system/bundled CAs stay trusted and a custom CA file is added to them;
// NODE_EXTRA_CA_CERTS (a Secret-mounted bundle) works by itself, since tls.getCACertificates('default')
// includes it. Client cert/key give mTLS. Files are re-read when they change (cert rotation).
import { readFile, stat } from 'node:fs/promises';
import { getCACertificates } from 'node:tls';
import { SextantError } from './errors.ts';

export interface TlsOptions {
  /** PEM bundle trusted in addition to the system/bundled CAs and NODE_EXTRA_CA_CERTS. */
  caFile?: string | undefined;
  /** Client certificate (PEM) for mTLS. */
  certFile?: string | undefined;
  /** Client key (PEM) for mTLS. */
  keyFile?: string | undefined;
  /** Name to verify instead of the endpoint's host. */
  serverName?: string | undefined;
  /** Skip verification. For tests only; logged as a warning by exporters. */
  insecureSkipVerify?: boolean | undefined;
}

export interface TlsMaterial {
  /** Trusted CAs (undefined: Node's defaults). */
  ca: string[] | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  servername: string | undefined;
  rejectUnauthorized: boolean;
  /** Changes whenever any file changed; clients built from older material should be rebuilt. */
  version: number;
}

/** Returns a function yielding current TLS material; it stats the files each call and re-reads on change. */
export function tlsReader(options: TlsOptions = {}): () => Promise<TlsMaterial> {
  let key = '';
  let current: TlsMaterial | undefined;
  let version = 0;
  const files = [options.caFile, options.certFile, options.keyFile];
  return async () => {
    let stamp = '';
    try {
      for (const f of files) {
        if (f === undefined) continue;
        const st = await stat(f);
        stamp += `${f}:${st.ino}:${st.size}:${st.mtimeMs};`;
      }
      if (current !== undefined && stamp === key) return current;
      const read = (f: string | undefined): Promise<Buffer | undefined> => (f === undefined ? Promise.resolve(undefined) : readFile(f));
      const [ca, cert, k] = await Promise.all(files.map(read));
      key = stamp;
      current = {
        ca: ca === undefined ? undefined : [...getCACertificates('default'), ca.toString('utf8')],
        cert,
        key: k,
        servername: options.serverName,
        rejectUnauthorized: options.insecureSkipVerify !== true,
        version: ++version,
      };
      return current;
    } catch (err) {
      throw new SextantError('SEXTANT_PIPELINE_TLS_INVALID',
        `TLS files cannot be read (caFile ${options.caFile ?? '-'}, certFile ${options.certFile ?? '-'}, keyFile ${options.keyFile ?? '-'}): ${(err as Error).message}`, { cause: err });
    }
  };
}
