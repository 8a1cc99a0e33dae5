// The CA, client certificate and key of the HTTPS hop to enrichment, re-read when the files change
// (cert-manager and kubelet rotate Secret volumes in place, by an atomic symlink swap; stat follows it).
// Written here rather than taken from @sextant/pipeline's tlsReader: importing that package's runtime
// costs about 0.6 s of collector startup (see collector.ts), and this hop trusts only its own CA.
import { readFile, stat } from 'node:fs/promises';

interface ClientTlsFiles {
  caFile: string | undefined;
  certFile: string | undefined;
  keyFile: string | undefined;
}

interface ClientTlsMaterial {
  /** Trusted CAs; undefined: Node's defaults (including NODE_EXTRA_CA_CERTS). */
  ca: Buffer | undefined;
  cert: Buffer | undefined;
  key: Buffer | undefined;
  /** Increases whenever a file changed; an HTTPS agent built from an older version is replaced. */
  version: number;
}

interface ClientTlsReader {
  /**
   * Current material. Stats the files at most once per interval, or at once with `recheck` (after a
   * TLS failure, so a fixed file is used on the next attempt). Throws when a file cannot be read.
   */
  get(recheck?: boolean): Promise<ClientTlsMaterial>;
}

function clientTlsReader(files: ClientTlsFiles, reloadIntervalMs: number): ClientTlsReader {
  const paths = [files.caFile, files.certFile, files.keyFile];
  let current: ClientTlsMaterial | undefined;
  let stamp = '';
  let checkedAt = 0;
  let version = 0;
  return {
    async get(recheck = false) {
      const now = Date.now();
      if (current !== undefined && !recheck && now - checkedAt < reloadIntervalMs) return current;
      let next = '';
      for (const p of paths) {
        if (p === undefined) continue;
        const st = await stat(p);
        next += `${p}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs};`;
      }
      checkedAt = now;
      if (current !== undefined && next === stamp) return current;
      const read = (p: string | undefined): Promise<Buffer | undefined> => (p === undefined ? Promise.resolve(undefined) : readFile(p));
      const [ca, cert, key] = await Promise.all(paths.map(read));
      stamp = next;
      current = { ca, cert, key, version: ++version };
      return current;
    },
  };
}

export { clientTlsReader };
export type { ClientTlsFiles, ClientTlsMaterial, ClientTlsReader };
