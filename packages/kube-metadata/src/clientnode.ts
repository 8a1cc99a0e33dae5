// Everything that needs @kubernetes/client-node, imported only when used (`await import()`): it
// costs +24 MiB of heap (bench/README.md "Heap with 10,000 pods").
// - Users with `exec` or `auth-provider` (and clusters with `proxy-url`): client-node's KubeConfig
//   authenticates each request; the transport is undici, one dispatcher per request, closed after it.
// - The `client-node` informer engine: its ListWatch (source-api.ts).
import { HttpMethod, KubeConfig, ListWatch, RequestContext } from '@kubernetes/client-node';
import { fetch } from 'undici';
import type { Dispatcher } from 'undici';
import type { KubeSource } from './credentials.ts';
import { KubeMetadataError } from './errors.ts';
import type { KubeHttpResponse, KubeRequest } from './transport.ts';

export { ListWatch };

export function loadClientNodeConfig(source: KubeSource): KubeConfig {
  const kc = new KubeConfig();
  if (source.kind === 'in-cluster') {
    kc.loadFromCluster();
    return kc;
  }
  try {
    kc.loadFromFile(source.path);
    if (source.context !== undefined) kc.setCurrentContext(source.context);
  } catch (err) {
    throw new KubeMetadataError('SEXTANT_KUBE_KUBECONFIG', `${source.path}${source.context === undefined ? '' : ` (context ${source.context})`}: ${(err as Error).message}`, { cause: err });
  }
  if (kc.getCurrentCluster() === null) throw new KubeMetadataError('SEXTANT_KUBE_KUBECONFIG', `${source.path}: the context has no cluster`);
  return kc;
}

const METHODS = { GET: HttpMethod.GET, POST: HttpMethod.POST, PUT: HttpMethod.PUT, PATCH: HttpMethod.PATCH, DELETE: HttpMethod.DELETE } as const;

export function clientNodeSender(source: KubeSource): { send: (req: KubeRequest) => Promise<KubeHttpResponse>; close(): void } {
  const kc = loadClientNodeConfig(source);
  const server = (kc.getCurrentCluster()?.server ?? '').replace(/\/+$/, '');
  return {
    async send(req) {
      const url = new URL(server + req.path);
      for (const [k, v] of Object.entries(req.query ?? {})) url.searchParams.set(k, v);
      const method = req.method ?? 'GET';
      const ctx = new RequestContext(url.toString(), METHODS[method]);
      await kc.applySecurityAuthentication(ctx);
      ctx.setHeaderParam('Accept', req.accept ?? 'application/json');
      if (req.body !== undefined) ctx.setHeaderParam('Content-Type', req.contentType ?? 'application/json');
      const dispatcher: Dispatcher | undefined = ctx.getDispatcher();
      let res;
      try {
        res = await fetch(url, {
          method,
          headers: ctx.getHeaders(),
          ...(req.body === undefined ? {} : { body: req.body }),
          ...(req.signal === undefined ? {} : { signal: req.signal }),
          ...(dispatcher === undefined ? {} : { dispatcher }),
        });
      } catch (err) {
        void dispatcher?.destroy().catch(() => undefined);
        throw err;
      }
      const release = (): void => {
        void dispatcher?.destroy().catch(() => undefined);
      };
      const body = res.body;
      async function* chunks(): AsyncGenerator<Uint8Array> {
        try {
          if (body !== null) for await (const c of body) yield c;
        } finally {
          release();
        }
      }
      return {
        status: res.status,
        body: chunks(),
        async text() {
          try {
            return await res.text();
          } finally {
            release();
          }
        },
        discard() {
          void body?.cancel().catch(() => undefined);
          release();
        },
      };
    },
    close() {
      // One dispatcher per request, destroyed with it: nothing to close here.
    },
  };
}
