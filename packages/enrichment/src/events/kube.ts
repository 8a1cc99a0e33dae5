// A small JSON client for the few API calls the events source makes (Lease get/create/update,
// events LIST and WATCH). Authentication comes from client-node's KubeConfig (token files are
// re-read, client certificates and CA applied); the transport is undici, one dispatcher per request
// and closed after it, so nothing outlives shutdown(). kube-metadata keeps its own transport
// private (its README), so this one is separate.
import { HttpMethod, KubeConfig, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { Dispatcher } from 'undici';

type KubeSource = { kind: 'in-cluster' } | { kind: 'kubeconfig'; path: string; context?: string };

interface KubeResponse {
  status: number;
  body: unknown;
}

interface KubeClient {
  /** One JSON request; never throws on an HTTP status (network errors and aborts do throw). */
  request(method: 'GET' | 'POST' | 'PUT', path: string, options?: { query?: Record<string, string>; body?: unknown; signal?: AbortSignal }): Promise<KubeResponse>;
  /**
   * A WATCH: calls `onEvent` for each line's `{ type, object }` until the server ends the stream
   * (resolves), the signal aborts (resolves) or the connection fails (rejects). A non-200 answer
   * resolves `{ status, body }` without streaming.
   */
  watch(path: string, query: Record<string, string>, onEvent: (type: string, object: unknown) => void | Promise<void>, signal: AbortSignal): Promise<KubeResponse>;
}

function loadKubeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === 'in-cluster') {
    kc.loadFromCluster();
  } else {
    kc.loadFromFile(source.path);
    if (source.context !== undefined) kc.setCurrentContext(source.context);
  }
  return kc;
}

function createKubeClient(source: KubeSource): KubeClient {
  const kc = loadKubeConfig(source);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('kubeconfig has no current cluster; set current-context or metadata.context');
  const server = cluster.server.replace(/\/+$/, '');

  async function open(method: 'GET' | 'POST' | 'PUT', path: string, query: Record<string, string>, body: unknown, signal: AbortSignal | undefined) {
    const url = new URL(server + path);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    const ctx = new RequestContext(url.toString(), method === 'GET' ? HttpMethod.GET : method === 'POST' ? HttpMethod.POST : HttpMethod.PUT);
    await kc.applySecurityAuthentication(ctx);
    ctx.setHeaderParam('Accept', 'application/json');
    if (body !== undefined) ctx.setHeaderParam('Content-Type', 'application/json');
    const dispatcher: Dispatcher | undefined = ctx.getDispatcher();
    try {
      const res = await fetch(url, {
        method,
        headers: ctx.getHeaders(),
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        ...(signal === undefined ? {} : { signal }),
        ...(dispatcher === undefined ? {} : { dispatcher }),
      });
      return { res, dispatcher };
    } catch (err) {
      void dispatcher?.destroy().catch(() => undefined);
      throw err;
    }
  }

  function parse(text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  return {
    async request(method, path, options = {}) {
      const { res, dispatcher } = await open(method, path, options.query ?? {}, options.body, options.signal);
      try {
        return { status: res.status, body: await parse(await res.text()) };
      } finally {
        void dispatcher?.destroy().catch(() => undefined);
      }
    },
    async watch(path, query, onEvent, signal) {
      const { res, dispatcher } = await open('GET', path, { ...query, watch: 'true' }, undefined, signal);
      try {
        if (res.status !== 200 || res.body === null) return { status: res.status, body: await parse(await res.text()) };
        const decoder = new TextDecoder();
        let buf = '';
        // Awaiting the callback pauses reading, so a slow consumer holds the stream back (TCP backpressure).
        const line = async (text: string): Promise<void> => {
          if (text.trim().length === 0) return;
          const ev = JSON.parse(text) as { type?: unknown; object?: unknown };
          await onEvent(typeof ev.type === 'string' ? ev.type : '', ev.object);
        };
        try {
          for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
            buf += decoder.decode(chunk, { stream: true });
            let nl = buf.indexOf('\n');
            while (nl >= 0) {
              const text = buf.slice(0, nl);
              buf = buf.slice(nl + 1);
              await line(text);
              nl = buf.indexOf('\n');
            }
          }
          await line(buf);
        } catch (err) {
          if (signal.aborted) return { status: 200, body: undefined };
          throw err;
        }
        return { status: 200, body: undefined };
      } finally {
        void dispatcher?.destroy().catch(() => undefined);
      }
    },
  };
}

/** The API server's Status message of a failed call, for logs and errors. */
function statusMessage(res: KubeResponse): string {
  const b = res.body as { message?: unknown } | undefined;
  return `HTTP ${res.status}${typeof b?.message === 'string' ? `: ${b.message}` : ''}`;
}

export { createKubeClient, statusMessage };
export type { KubeClient, KubeResponse, KubeSource };
