// HTTP to the API server with the credentials of credentials.ts, over node:http(s): one agent per
// transport, one connection per request (no keep-alive: a request sent on a pooled socket the server
// is just closing fails with ECONNRESET, and the requests are few: LISTs, long WATCHes, a Lease renewal
// every few seconds); close() destroys what is left. Users that need client-node (exec, auth-provider,
// proxy-url) go through client-node's KubeConfig and undici, both imported on the first request only
// (client-node costs +24 MiB of heap; bench/README.md "Heap with 10,000 pods").
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { loadKubeCredentials, tokenFileReader } from './credentials.ts';
import type { KubeCredentials, KubeSource, LoadCredentialsOptions } from './credentials.ts';

export interface KubeRequest {
  /** Default GET. */
  readonly method?: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  /** Absolute API path, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string>>;
  /** Default `application/json`. */
  readonly accept?: string;
  /** Request body (JSON text). */
  readonly body?: string;
  /** Default `application/json` when there is a body. */
  readonly contentType?: string;
  readonly signal?: AbortSignal;
}

export interface KubeHttpResponse {
  readonly status: number;
  /** The body as it arrives (a WATCH streams); read it, or call discard(). */
  readonly body: AsyncIterable<Uint8Array>;
  /** The whole body as text. */
  text(): Promise<string>;
  /** Drops the body and the connection's part in it. */
  discard(): void;
}

export interface KubeTransport {
  /** The API server base URL. */
  readonly server: string;
  readonly credentials: KubeCredentials;
  /** Resolves at the response headers; never rejects on an HTTP status (network errors and aborts do). */
  request(req: KubeRequest): Promise<KubeHttpResponse>;
  /** Closes idle connections; requests in flight end through their signals. */
  close(): void;
}

type Send = (req: KubeRequest) => Promise<KubeHttpResponse>;

function urlOf(server: string, req: KubeRequest): URL {
  const url = new URL(server + req.path);
  for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
  return url;
}

function wrap(res: IncomingMessage): KubeHttpResponse {
  // An abort after the headers destroys the response with an error; whoever reads the body sees it
  // through the iterator, and an unread body must not turn it into an uncaught exception.
  res.on('error', () => undefined);
  return {
    status: res.statusCode ?? 0,
    body: res,
    async text() {
      const chunks: Buffer[] = [];
      for await (const c of res) chunks.push(c as Buffer);
      return Buffer.concat(chunks).toString('utf8');
    },
    discard() {
      res.destroy();
    },
  };
}

function nodeSender(creds: KubeCredentials): { send: Send; close(): void } {
  const https = creds.server.startsWith('https:');
  const t = creds.tls;
  const agent = https
    ? new HttpsAgent({
        keepAlive: false,
        rejectUnauthorized: t.rejectUnauthorized,
        ...(t.ca === undefined ? {} : { ca: t.ca }),
        ...(t.cert === undefined ? {} : { cert: t.cert }),
        ...(t.key === undefined ? {} : { key: t.key }),
        ...(t.servername === undefined ? {} : { servername: t.servername }),
      })
    : new HttpAgent({ keepAlive: false });
  const a = creds.auth;
  const authorization: () => Promise<string | undefined> =
    a.kind === 'token'
      ? () => Promise.resolve(`Bearer ${a.token}`)
      : a.kind === 'token-file'
        ? (() => {
            const read = tokenFileReader(a.path, a.fallback);
            return async () => `Bearer ${await read()}`;
          })()
        : a.kind === 'basic'
          ? () => Promise.resolve(`Basic ${Buffer.from(`${a.username}:${a.password}`).toString('base64')}`)
          : () => Promise.resolve(undefined);
  const send: Send = async (req) => {
    const url = urlOf(creds.server, req);
    const headers: Record<string, string> = { Accept: req.accept ?? 'application/json' };
    const auth = await authorization();
    if (auth !== undefined) headers['Authorization'] = auth;
    if (req.body !== undefined) {
      headers['Content-Type'] = req.contentType ?? 'application/json';
      headers['Content-Length'] = String(Buffer.byteLength(req.body));
    }
    req.signal?.throwIfAborted();
    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const r = (https ? httpsRequest : httpRequest)(url, { method: req.method ?? 'GET', headers, agent, ...(req.signal === undefined ? {} : { signal: req.signal }) }, resolve);
      r.on('error', reject);
      r.end(req.body);
    });
    return wrap(res);
  };
  return { send, close: () => agent.destroy() };
}

class Transport implements KubeTransport {
  readonly server: string;
  readonly credentials: KubeCredentials;
  private sender: Promise<{ send: Send; close(): void }> | { send: Send; close(): void } | undefined;
  private closed = false;

  constructor(creds: KubeCredentials) {
    this.credentials = creds;
    this.server = creds.server;
    if (creds.auth.kind !== 'client-node') this.sender = nodeSender(creds);
  }

  private async senderOf(): Promise<{ send: Send; close(): void }> {
    if (this.sender === undefined) {
      const src = this.credentials.source;
      this.sender = import('./clientnode.ts').then((m) => m.clientNodeSender(src));
    }
    return this.sender;
  }

  async request(req: KubeRequest): Promise<KubeHttpResponse> {
    const s = await this.senderOf();
    return s.send(req);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    const s = this.sender;
    if (s === undefined) return;
    if (s instanceof Promise) {
      s.then((x) => x.close()).catch(() => undefined);
    } else {
      s.close();
    }
  }
}

/**
 * A transport to the API server of `source` (credentials are read now; throws KubeMetadataError
 * SEXTANT_KUBE_KUBECONFIG / SEXTANT_KUBE_NOT_IN_CLUSTER naming the file and key), or of credentials
 * already loaded with loadKubeCredentials.
 */
export function createKubeTransport(source: KubeSource | KubeCredentials, options: LoadCredentialsOptions = {}): KubeTransport {
  const creds = 'server' in source ? source : loadKubeCredentials(source, options);
  return new Transport(creds);
}
