// Wires the security sources (Kubernetes events, the audit webhook) around the enrichment
// service: they start after the service (its queue is open and the export loop runs) and stop
// before it (their last batches reach the queue before it closes). See README.md.
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { secretReader } from '@sextant/pipeline';
import type { Logger, Metrics, Queue } from '@sextant/pipeline';
import type { EnrichmentConfig } from '../config.ts';
import type { EnrichmentService } from '../service.ts';
import { createAuditWebhook } from '../audit/webhook.ts';
import type { AuditWebhook } from '../audit/webhook.ts';
import { createKubeClient } from './kube.ts';
import { createEventsSource } from './source.ts';
import type { EventsPodMetadata, EventsSource } from './source.ts';

interface SecuritySourceDeps<P> {
  config: EnrichmentConfig;
  logger: Logger;
  /** The service's queue once start() opened it. */
  queue: () => Queue | undefined;
  metrics: () => Metrics | undefined;
  pods: EventsPodMetadata<P>;
}

/** The service with `auditAddress()` and `events()` for tests and diagnostics. */
interface EnrichmentServiceWithSources extends EnrichmentService {
  /** The audit webhook's bound address (audit.enabled), else undefined. */
  auditAddress(): { host: string; port: number } | undefined;
  /** The events source (events.enabled), else undefined. */
  eventsSource(): EventsSource | undefined;
}

const SA_NAMESPACE_FILE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

function defaultLeaseNamespace(env: NodeJS.ProcessEnv): string {
  const fromEnv = env['POD_NAMESPACE'];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  try {
    return readFileSync(SA_NAMESPACE_FILE, 'utf8').trim();
  } catch {
    return 'default';
  }
}

function withSecuritySources<P>(base: EnrichmentService, deps: SecuritySourceDeps<P>, env: NodeJS.ProcessEnv = process.env): EnrichmentServiceWithSources {
  const { config, logger } = deps;
  let events: EventsSource | undefined;
  let audit: AuditWebhook | undefined;

  const enqueue = (payload: Uint8Array, source: string) => {
    const q = deps.queue();
    if (q === undefined) return Promise.reject(new Error('the queue is not open'));
    return q.enqueue({ signal: 'logs', payload, meta: { source } });
  };

  return {
    ...base,
    async start() {
      await base.start();
      const m = deps.metrics();
      try {
        if (config.audit.enabled) {
          const a = config.audit;
          audit = await createAuditWebhook({
            listen: a.listen,
            maxBodyBytes: a.maxBodyBytes,
            token: a.token === undefined ? undefined : secretReader(a.token, env),
            tls: a.tls.certFile === undefined || a.tls.keyFile === undefined ? undefined : { certFile: a.tls.certFile, keyFile: a.tls.keyFile, clientCaFile: a.tls.clientCaFile },
            enqueue: (p) => enqueue(p, 'audit'),
            clusterName: config.metadata.clusterName,
            logger,
            counters:
              m === undefined
                ? undefined
                : {
                    requests: m.counter('audit_requests_total', { help: 'Audit webhook requests answered, by HTTP status.', labelNames: ['code'] }),
                    events: m.counter('audit_events_total', { help: 'Audit events received, by outcome (enqueued, queue_full).', labelNames: ['outcome'] }),
                  },
          });
          await audit.start();
        }
        if (config.events.enabled) {
          const e = config.events;
          const md = config.metadata;
          events = createEventsSource<P>({
            client: createKubeClient(md.source === 'kubeconfig' ? { kind: 'kubeconfig', path: md.path ?? '', ...(md.context === undefined ? {} : { context: md.context }) } : { kind: 'in-cluster' }),
            namespaces: e.namespaces,
            startFrom: e.startFrom,
            lease: {
              namespace: e.lease.namespace ?? defaultLeaseNamespace(env),
              name: e.lease.name,
              durationMs: e.lease.duration,
              renewIntervalMs: e.lease.renewInterval,
              retryIntervalMs: e.lease.retryInterval,
              renewDeadlineMs: e.lease.renewDeadline,
            },
            identity: e.identity ?? `${env['POD_NAME'] ?? hostname()}_${randomUUID()}`,
            batchMaxEvents: e.batch.maxEvents,
            batchMaxWaitMs: e.batch.maxWait,
            dedupeWindowMs: e.dedupeWindow,
            enqueue: (p) => enqueue(p, 'events'),
            pods: deps.pods,
            waitForPodMs: md.waitForPod,
            clusterName: md.clusterName,
            logger,
            counters: m === undefined ? undefined : { events: m.counter('k8s_events_total', { help: 'Kubernetes events seen by the leader, by outcome (enqueued, duplicate).', labelNames: ['outcome'] }) },
          });
          events.start();
        }
      } catch (err) {
        await this.shutdown();
        throw err;
      }
    },
    async shutdown() {
      // Upstream first: the sources put their last batches in the queue, then the service closes it.
      await Promise.all([audit?.shutdown(), events?.shutdown()]);
      await base.shutdown();
    },
    auditAddress: () => audit?.address(),
    eventsSource: () => events,
  };
}

export { withSecuritySources };
export type { EnrichmentServiceWithSources, SecuritySourceDeps };
