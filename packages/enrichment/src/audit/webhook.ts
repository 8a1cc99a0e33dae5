// The API-server audit webhook (issue 10 part 2): `POST /v1/audit` on its own listener (default
// :24322), so it can have its own TLS/mTLS and NetworkPolicy rule (only the API server calls it).
// The kube-apiserver's --audit-webhook-config-file (kubeconfig format) points at it and sends
// audit.k8s.io/v1 EventList batches. 200 only once the batch is fsync'd in the enrichment queue; on
// any error the API server retries the batch with backoff (k8s.io/apiserver
// plugin/pkg/audit/webhook retries every error, 5 attempts from --audit-webhook-initial-backoff).
import { readFile } from 'node:fs/promises';
import { timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { EnqueueResult, Logger } from '@sextant/pipeline';
import type { KeyValue } from '@sextant/otlp';
import type { Counter } from 'prom-client';
import { checkEventList, encodeAuditEvents } from './convert.ts';
import type { AuditEvent } from './convert.ts';

interface AuditWebhookOptions {
  listen: { host: string; port: number };
  /** Largest request body; above it 413. */
  maxBodyBytes: number;
  /** Current bearer token (re-read on rotation); undefined = no token check (mTLS only). */
  token?: (() => Promise<string>) | undefined;
  /** Serve HTTPS; with clientCaFile, require a client certificate signed by it (mTLS). */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string | undefined } | undefined;
  /** Durable enqueue (resolves once fsync'd); throws when the queue is closed. */
  enqueue(payload: Uint8Array): Promise<EnqueueResult>;
  clusterName?: string | undefined;
  logger: Logger;
  counters?: { requests: Counter<'code'>; events: Counter<'outcome'> } | undefined;
}

interface AuditWebhook {
  /** Listens; resolves once bound. */
  start(): Promise<void>;
  /** Stops accepting, lets requests in flight reach the queue, closes the listener. */
  shutdown(): Promise<void>;
  address(): { host: string; port: number } | undefined;
}

const PATH = '/v1/audit';

function equalTokens(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function createAuditWebhook(o: AuditWebhookOptions): Promise<AuditWebhook> {
  const https =
    o.tls === undefined
      ? undefined
      : {
          cert: await readFile(o.tls.certFile),
          key: await readFile(o.tls.keyFile),
          ...(o.tls.clientCaFile === undefined ? {} : { ca: await readFile(o.tls.clientCaFile), requestCert: true, rejectUnauthorized: true }),
        };
  const base = { logger: false, bodyLimit: o.maxBodyBytes, forceCloseConnections: 'idle' as const, return503OnClosing: true };
  const app: FastifyInstance = (https === undefined ? Fastify(base) : Fastify({ ...base, https })) as FastifyInstance;
  const resource: KeyValue[] = [{ key: 'service.name', value: 'kube-apiserver' }, ...(o.clusterName === undefined ? [] : [{ key: 'k8s.cluster.name', value: o.clusterName }])];
  let closing = false;

  function answer(reply: FastifyReply, code: number, message: string, retryAfterS?: number): FastifyReply {
    o.counters?.requests.inc({ code: String(code) });
    if (retryAfterS !== undefined) void reply.header('retry-after', String(retryAfterS));
    const body = code === 200 ? {} : { kind: 'Status', apiVersion: 'v1', status: 'Failure', message, code };
    return reply.code(code).type('application/json').send(JSON.stringify(body));
  }

  async function handle(request: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
    if (o.token !== undefined) {
      const auth = request.headers.authorization ?? '';
      const m = /^Bearer (.+)$/i.exec(auth);
      let expected: string;
      try {
        expected = await o.token();
      } catch (err) {
        o.logger.error({ err }, 'audit webhook: cannot read the bearer token');
        return answer(reply, 503, 'the webhook token cannot be read', 1);
      }
      if (m === null || !equalTokens(m[1] ?? '', expected)) return answer(reply, 401, 'missing or wrong bearer token');
    }
    const why = checkEventList(request.body);
    if (why !== undefined) return answer(reply, 400, `not an audit.k8s.io/v1 EventList: ${why}`);
    const items = ((request.body as { items?: AuditEvent[] | null }).items ?? []);
    if (items.length === 0) return answer(reply, 200, 'ok');
    if (closing) return answer(reply, 503, 'the service is shutting down', 1);
    const payload = encodeAuditEvents(items, resource, BigInt(Date.now()) * 1_000_000n);
    let res: EnqueueResult;
    try {
      res = await o.enqueue(payload);
    } catch (err) {
      o.logger.error({ err }, 'audit webhook: enqueue failed');
      return answer(reply, 503, `the durable queue could not store the batch: ${(err as Error).message}`, 1);
    }
    if (res.kind === 'full') {
      o.counters?.events.inc({ outcome: 'queue_full' }, items.length);
      return answer(reply, 429, `the durable queue is full; retry after ${res.retryAfterMs} ms`, Math.max(1, Math.ceil(res.retryAfterMs / 1000)));
    }
    o.counters?.events.inc({ outcome: 'enqueued' }, items.length);
    return answer(reply, 200, 'ok');
  }

  app.post(PATH, handle);
  app.setErrorHandler((err, _request, reply) => {
    const e = err as { statusCode?: number; message?: string };
    const code = e.statusCode !== undefined && e.statusCode >= 400 ? e.statusCode : 500;
    if (code >= 500) o.logger.error({ err }, 'audit webhook: request failed');
    return answer(reply, code, e.message ?? 'internal error', code >= 500 ? 1 : undefined);
  });

  const webhook: AuditWebhook = {
    async start() {
      await app.listen({ host: o.listen.host, port: o.listen.port });
      o.logger.info({ address: webhook.address(), tls: https !== undefined, mtls: o.tls?.clientCaFile !== undefined }, 'audit webhook listening');
    },
    async shutdown() {
      closing = true;
      await app.close();
    },
    address() {
      const addr = app.server.address();
      if (addr === null || typeof addr === 'string') return undefined;
      return { host: addr.address, port: addr.port };
    },
  };
  return webhook;
}

export { createAuditWebhook };
export type { AuditWebhook, AuditWebhookOptions };
