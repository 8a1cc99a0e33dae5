// HTTPS and mutual TLS for the OTLP/HTTP listener on :24321 (the node collector → enrichment hop).
//
// mTLS decision: the TLS server asks every client for a certificate (requestCert) but does not end the
// handshake when none or an untrusted one comes (rejectUnauthorized: false). The OTLP routes then refuse
// such a connection with 401 and an OTLP Status body, while /healthz, /readyz (kubelet probes) and
// /metrics (Prometheus) stay reachable over TLS without a client certificate: neither can present one.
// A handshake-level refusal would have taken the probes down with the intruders.
//
// Rotation: cert-manager (and kubelet's Secret volumes) replace the files in place, by an atomic
// symlink swap. The files are stat'ed every reloadIntervalMs; a change in inode, size or mtime re-reads
// all of them and installs them with server.setSecureContext(). New connections use the new material;
// open ones keep theirs. The new context has new session-ticket keys, so a client cannot resume a
// session verified against the previous client CA (tested). Material that does not load (e.g. a key
// that does not match the cert while a non-atomic writer is half done) is logged and the old context
// stays until the next change.
import { readFile, stat } from 'node:fs/promises';
import type { Socket } from 'node:net';
import type { Server as TlsServer, TLSSocket } from 'node:tls';
import type { Logger } from '@sextant/pipeline';

/** listen.tls as the service uses it (certFile and keyFile are set: TLS is on). */
interface ListenTlsFiles {
  certFile: string;
  keyFile: string;
  /** With it: mTLS for the OTLP routes. */
  clientCaFile?: string | undefined;
  reloadIntervalMs: number;
}

interface ListenTlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

interface ListenTls {
  /** True when the OTLP routes require a client certificate signed by clientCaFile. */
  readonly mutual: boolean;
  /** Options for the HTTPS server (fastify's `https`). */
  serverOptions(): { cert: Buffer; key: Buffer; ca?: Buffer; requestCert: boolean; rejectUnauthorized: boolean };
  /** Why this connection may not use the OTLP routes, or undefined when it may. */
  refusal(socket: Socket): string | undefined;
  /** Starts the periodic check of the files; changes are installed on `server`. */
  watch(server: TlsServer): void;
  /** Resolves after the next check (tests and shutdown use it). */
  checkNow(): Promise<void>;
  stop(): void;
}

async function stamp(files: readonly string[]): Promise<string> {
  const parts = await Promise.all(files.map(async (f) => {
    const st = await stat(f);
    return `${f}:${st.dev}:${st.ino}:${st.size}:${st.mtimeMs}`;
  }));
  return parts.join(';');
}

async function readMaterial(o: ListenTlsFiles): Promise<ListenTlsMaterial> {
  const [cert, key, ca] = await Promise.all([readFile(o.certFile), readFile(o.keyFile), o.clientCaFile === undefined ? undefined : readFile(o.clientCaFile)]);
  return ca === undefined ? { cert, key } : { cert, key, ca };
}

/** Reads the files once (throws when one is unreadable); watch() then keeps them current. */
async function loadListenTls(o: ListenTlsFiles, log: Logger): Promise<ListenTls> {
  const files = [o.certFile, o.keyFile, ...(o.clientCaFile === undefined ? [] : [o.clientCaFile])];
  let current = await stamp(files);
  let material = await readMaterial(o);
  let failed: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  let server: TlsServer | undefined;
  let running: Promise<void> | undefined;
  const mutual = o.clientCaFile !== undefined;

  async function check(): Promise<void> {
    let next: string;
    try {
      next = await stamp(files);
      if (next === current || next === failed) return;
      const m = await readMaterial(o);
      server?.setSecureContext(m.ca === undefined ? { cert: m.cert, key: m.key } : { cert: m.cert, key: m.key, ca: m.ca });
      material = m;
      current = next;
      failed = undefined;
      log.info({ certFile: o.certFile, clientCaFile: o.clientCaFile }, 'listen.tls: reloaded the changed certificate files');
    } catch (err) {
      // A file missing mid-swap or a half-written pair: keep serving the old material, retry on the next change.
      next = await stamp(files).catch(() => 'unreadable');
      if (failed !== next) log.warn({ err, certFile: o.certFile, keyFile: o.keyFile, clientCaFile: o.clientCaFile }, 'listen.tls: the changed files do not load; still serving the previous certificate');
      failed = next;
    }
  }

  const tls: ListenTls = {
    mutual,
    serverOptions() {
      return {
        cert: material.cert,
        key: material.key,
        ...(material.ca === undefined ? {} : { ca: material.ca }),
        requestCert: mutual,
        // see the file comment: the OTLP routes check socket.authorized themselves
        rejectUnauthorized: false,
      };
    },
    refusal(socket) {
      if (!mutual) return undefined;
      const s = socket as TLSSocket;
      if (s.authorized) return undefined;
      const peer = typeof s.getPeerCertificate === 'function' ? s.getPeerCertificate() : undefined;
      if (peer === undefined || Object.keys(peer).length === 0) return 'no client certificate was presented; the OTLP routes require one signed by listen.tls.clientCaFile';
      const cn = (name: { CN?: string | string[] } | undefined): string => String(name?.CN ?? '?');
      return `the client certificate (CN ${cn(peer.subject)}, issuer CN ${cn(peer.issuer)}) is not trusted by listen.tls.clientCaFile: ${String(s.authorizationError)}`;
    },
    watch(srv) {
      server = srv;
      const tick = (): void => {
        running = check().finally(() => {
          running = undefined;
          if (timer !== undefined) {
            timer = setTimeout(tick, o.reloadIntervalMs);
            timer.unref();
          }
        });
      };
      timer = setTimeout(tick, o.reloadIntervalMs);
      timer.unref();
    },
    async checkNow() {
      await running;
      await check();
    },
    stop() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
    },
  };
  return tls;
}

export { loadListenTls };
export type { ListenTls, ListenTlsFiles };
