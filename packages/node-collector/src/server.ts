// /metrics, /healthz and /readyz on port 2020 (ARCHITECTURE.md "Wire formats and ports").
import type { Registry } from 'prom-client';

interface StatusServer {
  address(): { host: string; port: number };
  close(): Promise<void>;
}

async function startStatusServer(opts: { port: number; host: string }, registry: Registry, ready: () => boolean): Promise<StatusServer> {
  // loaded on demand: the collector opens its files first (see encoder.ts)
  const { default: Fastify } = await import('fastify');
  const app = Fastify({ logger: false });
  app.get('/metrics', async (_req, reply) => {
    const text = await registry.metrics();
    return reply.header('content-type', registry.contentType).send(text);
  });
  app.get('/healthz', async (_req, reply) => reply.send('ok\n'));
  app.get('/readyz', async (_req, reply) => (ready() ? reply.send('ready\n') : reply.code(503).send('not ready\n')));
  await app.listen({ port: opts.port, host: opts.host });
  const a = app.server.address();
  const port = typeof a === 'object' && a !== null ? a.port : opts.port;
  return {
    address: () => ({ host: opts.host, port }),
    close: () => app.close(),
  };
}

export { startStatusServer };
export type { StatusServer };
