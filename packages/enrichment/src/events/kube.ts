// A small JSON client for the few API calls the events source makes (Lease get/create/update,
// events LIST and WATCH), over @sextant/kube-metadata's transport: its own credentials reader
// (ServiceAccount token re-read per request, CA, kubeconfig client certificates and tokens), with
// @kubernetes/client-node imported only for exec/auth-provider users (+24 MiB of heap otherwise).
import { createKubeTransport } from '@sextant/kube-metadata';
import type { KubeSource } from '@sextant/kube-metadata';

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

function createKubeClient(source: KubeSource): KubeClient {
  const transport = createKubeTransport(source);

  function parse(text: string): unknown {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      return text;
    }
  }

  return {
    async request(method, path, options = {}) {
      const res = await transport.request({
        method,
        path,
        ...(options.query === undefined ? {} : { query: options.query }),
        ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
      try {
        return { status: res.status, body: parse(await res.text()) };
      } finally {
        res.discard();
      }
    },
    async watch(path, query, onEvent, signal) {
      const res = await transport.request({ path, query: { ...query, watch: 'true' }, signal });
      try {
        if (res.status !== 200) return { status: res.status, body: parse(await res.text()) };
        const decoder = new TextDecoder();
        let buf = '';
        // Awaiting the callback pauses reading, so a slow consumer holds the stream back (TCP backpressure).
        const line = async (text: string): Promise<void> => {
          if (text.trim().length === 0) return;
          const ev = JSON.parse(text) as { type?: unknown; object?: unknown };
          await onEvent(typeof ev.type === 'string' ? ev.type : '', ev.object);
        };
        try {
          for await (const chunk of res.body) {
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
        res.discard();
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
