// Kubernetes events source (issue 10 part 1): the leader replica watches events.k8s.io/v1 Events
// (all namespaces or a list), turns each ADDED/MODIFIED event into one OTLP log record with the
// involved object's metadata, and enqueues batches in the durable queue (the same at-least-once
// path as container logs). See README.md "Kubernetes events" for the delivery argument.
//
// Checkpoint: per watched stream (namespace, or "" for all) the resourceVersion up to which every
// change is durable in the leader's queue. It lives in an annotation of the election Lease, written
// after each durable enqueue, because replicas have separate queue volumes: the next leader reads it
// and resumes the WATCH from there. On 410 Gone it LISTs and ships only objects whose
// resourceVersion is above the checkpoint (resourceVersions are comparable integers since
// Kubernetes 1.35, KEP-5504); an in-memory uid+count window also drops repeats.
import type { EnqueueResult, Logger } from '@sextant/pipeline';
import type { KeyValue } from '@sextant/otlp';
import type { Counter } from 'prom-client';
import { encodeEvents, regardingAttributes } from './convert.ts';
import type { EventForExport, KubeEvent } from './convert.ts';
import type { KubeClient } from './kube.ts';
import { statusMessage } from './kube.ts';
import { createLeaderElector } from './lease.ts';
import type { LeaderElector } from './lease.ts';

const CHECKPOINT_ANNOTATION = 'sextant.io/events-checkpoint';

/** The pod side of the metadata cache, as the events source uses it. */
interface EventsPodMetadata<P> {
  waitForPod(key: { uid: string } | { namespace: string; name: string }, timeoutMs: number): Promise<P | undefined>;
  attributesFor(pod: P): Array<[string, string]>;
}

interface EventsSourceOptions<P> {
  client: KubeClient;
  /** Namespaces to watch; empty = all namespaces. */
  namespaces: readonly string[];
  /** With no checkpoint on the Lease: ship the events that exist already (`all`) or only new ones (`now`). */
  startFrom: 'all' | 'now';
  lease: { namespace: string; name: string; durationMs: number; renewIntervalMs: number; retryIntervalMs: number; renewDeadlineMs: number };
  identity: string;
  batchMaxEvents: number;
  batchMaxWaitMs: number;
  dedupeWindowMs: number;
  /** Durable enqueue of one OTLP logs request (resolves once fsync'd). */
  enqueue(payload: Uint8Array): Promise<EnqueueResult>;
  pods?: EventsPodMetadata<P> | undefined;
  waitForPodMs: number;
  clusterName?: string | undefined;
  logger: Logger;
  counters?: { events: Counter<'outcome'> } | undefined;
}

interface EventsSource {
  start(): void;
  /** Flushes what was received, saves the checkpoint, releases the Lease. */
  shutdown(): Promise<void>;
  isLeader(): boolean;
  stats(): { leader: boolean; shipped: number; duplicatesDropped: number; relists: number; checkpoint: Record<string, string> };
}

interface Pending {
  stream: string;
  rv: string;
  event: KubeEvent;
}

function rvNumber(rv: string | undefined): bigint | undefined {
  if (rv === undefined || !/^\d{1,40}$/.test(rv)) return undefined;
  return BigInt(rv);
}

/** a > b as resourceVersions; undefined when either is not an integer. */
function rvAfter(a: string | undefined, b: string | undefined): boolean | undefined {
  const x = rvNumber(a);
  const y = rvNumber(b);
  return x === undefined || y === undefined ? undefined : x > y;
}

function createEventsSource<P>(o: EventsSourceOptions<P>): EventsSource {
  const streams = o.namespaces.length === 0 ? [''] : [...new Set(o.namespaces)];
  const log = o.logger;
  let generation = 0;
  let controllers: AbortController[] = [];
  let pending: Pending[] = [];
  // Durable checkpoint per stream, and the newest resourceVersion received per stream (events and bookmarks).
  let durable: Record<string, string> = {};
  const received: Record<string, string> = {};
  const seen = new Map<string, { count: number; at: number }>();
  let flushTimer: NodeJS.Timeout | undefined;
  let flushing: Promise<void> = Promise.resolve();
  let drained: Array<() => void> = [];
  let shipped = 0;
  let dupes = 0;
  let relists = 0;
  let stopped = false;
  let stopDeadline = Infinity;

  const elector: LeaderElector = createLeaderElector({
    client: o.client,
    namespace: o.lease.namespace,
    name: o.lease.name,
    identity: o.identity,
    leaseDurationMs: o.lease.durationMs,
    renewIntervalMs: o.lease.renewIntervalMs,
    retryIntervalMs: o.lease.retryIntervalMs,
    renewDeadlineMs: o.lease.renewDeadlineMs,
    checkpointAnnotation: CHECKPOINT_ANNOTATION,
    logger: log,
    onStartedLeading: (cp) => lead(cp),
    onStoppedLeading: () => follow(),
  });

  function parseCheckpoint(cp: string | undefined): Record<string, string> | undefined {
    if (cp === undefined) return undefined;
    try {
      const v = JSON.parse(cp) as unknown;
      if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
        return Object.fromEntries(Object.entries(v).filter((e): e is [string, string] => typeof e[1] === 'string'));
      }
    } catch {
      // fall through
    }
    log.warn({ checkpoint: cp }, 'events: checkpoint annotation is not a JSON map of resourceVersions; starting over');
    return undefined;
  }

  function lead(cp: string | undefined): void {
    const gen = ++generation;
    const parsed = parseCheckpoint(cp);
    durable = { ...(parsed ?? {}) };
    pending = [];
    for (const s of streams) {
      const ctl = new AbortController();
      controllers.push(ctl);
      void runStream(s, durable[s], parsed === undefined ? o.startFrom : 'all', gen, ctl.signal);
    }
  }

  function follow(): void {
    generation++;
    for (const c of controllers) c.abort();
    controllers = [];
    // Not durable yet: the next leader ships these from the checkpoint.
    pending = [];
    for (const d of drained) d();
    drained = [];
  }

  /** False when `ev` (uid, count) was shipped within the window. */
  function fresh(ev: KubeEvent): boolean {
    const uid = ev.metadata?.uid;
    if (uid === undefined) return true;
    const count = ev.series?.count ?? ev.deprecatedCount ?? 1;
    const t = Date.now();
    const prev = seen.get(uid);
    if (prev !== undefined && prev.count === count && t - prev.at < o.dedupeWindowMs) return false;
    seen.delete(uid);
    seen.set(uid, { count, at: t });
    // Oldest first (insertion order): drop what left the window.
    for (const [k, v] of seen) {
      if (t - v.at < o.dedupeWindowMs) break;
      seen.delete(k);
    }
    return true;
  }

  function accept(stream: string, ev: KubeEvent, floor: string | undefined): void {
    const rv = ev.metadata?.resourceVersion ?? '';
    if (floor !== undefined && rvAfter(rv, floor) === false) {
      dupes++;
      o.counters?.events.inc({ outcome: 'duplicate' });
      return;
    }
    if (!fresh(ev)) {
      dupes++;
      o.counters?.events.inc({ outcome: 'duplicate' });
      return;
    }
    pending.push({ stream, rv, event: ev });
    scheduleFlush();
  }

  function scheduleFlush(): void {
    if (pending.length >= o.batchMaxEvents) {
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flushTimer = undefined;
      void flush();
    } else if (flushTimer === undefined) {
      flushTimer = setTimeout(() => {
        flushTimer = undefined;
        void flush();
      }, o.batchMaxWaitMs);
    }
  }

  /** Waits until pending is below the batch size (backpressure for the watch reader). */
  async function room(): Promise<void> {
    while (pending.length >= o.batchMaxEvents * 4 && elector.isLeader()) {
      await new Promise<void>((resolve) => drained.push(resolve));
    }
  }

  async function resourceFor(ev: KubeEvent): Promise<KeyValue[]> {
    const base = regardingAttributes(ev, o.clusterName);
    const r = ev.regarding;
    if (o.pods === undefined || r?.kind !== 'Pod') return base;
    const key = r.uid !== undefined && r.uid !== '' ? { uid: r.uid } : { namespace: r.namespace ?? '', name: r.name ?? '' };
    const pod = await o.pods.waitForPod(key, o.waitForPodMs);
    if (pod === undefined) return base;
    const have = new Set(base.map((a) => a.key));
    const out = [...base];
    for (const [k, v] of o.pods.attributesFor(pod)) {
      if (!have.has(k)) {
        out.push({ key: k, value: v });
        have.add(k);
      }
    }
    return out;
  }

  function flush(): Promise<void> {
    flushing = flushing.then(flushOnce, flushOnce);
    return flushing;
  }

  async function flushOnce(): Promise<void> {
    const gen = generation;
    if (pending.length === 0 && Object.keys(received).every((s) => received[s] === durable[s])) return;
    const batch = pending.slice(0, o.batchMaxEvents);
    // Every change up to `upto[stream]` is in this batch or an earlier one once the batch is cut at
    // the end of pending; a partial cut only covers the events it holds.
    const whole = batch.length === pending.length;
    const upto: Record<string, string> = {};
    for (const p of batch) upto[p.stream] = p.rv;
    if (whole) for (const s of streams) if (received[s] !== undefined) upto[s] = received[s];
    if (batch.length > 0) {
      const items: EventForExport[] = await Promise.all(batch.map(async (p) => ({ event: p.event, resource: await resourceFor(p.event) })));
      const payload = encodeEvents(items, BigInt(Date.now()) * 1_000_000n);
      for (;;) {
        // Not enqueued: nothing is lost, the next leader ships these from the checkpoint.
        if (gen !== generation || !elector.isLeader() || Date.now() > stopDeadline) return;
        let res: EnqueueResult;
        try {
          res = await o.enqueue(payload);
        } catch (err) {
          log.error({ err }, 'events: enqueue failed; retrying');
          await new Promise((r) => setTimeout(r, 1000));
          continue;
        }
        if (res.kind === 'ok') break;
        await new Promise((r) => setTimeout(r, Math.max(100, res.retryAfterMs)));
      }
      if (gen !== generation) return;
      pending.splice(0, batch.length);
      shipped += batch.length;
      o.counters?.events.inc({ outcome: 'enqueued' }, batch.length);
      if (pending.length < o.batchMaxEvents * 4) {
        for (const d of drained) d();
        drained = [];
      }
    }
    const next = { ...durable, ...upto };
    if (JSON.stringify(next) !== JSON.stringify(durable)) {
      if (!(await elector.saveCheckpoint(JSON.stringify(next)))) {
        log.warn('events: checkpoint not saved (retried with the next batch)');
      } else if (gen === generation) {
        durable = next;
      }
    }
    if (pending.length > 0) scheduleFlush();
  }

  function streamPath(ns: string): string {
    return ns === '' ? '/apis/events.k8s.io/v1/events' : `/apis/events.k8s.io/v1/namespaces/${encodeURIComponent(ns)}/events`;
  }

  /** LIST; ships the items above `floor` (all with floor undefined, none when skip). Returns the list's RV. */
  async function list(ns: string, floor: string | undefined, skip: boolean, signal: AbortSignal): Promise<string> {
    const items: KubeEvent[] = [];
    let cont: string | undefined;
    let rv = '';
    do {
      const res = await o.client.request('GET', streamPath(ns), { query: { limit: '500', ...(cont === undefined ? {} : { continue: cont }) }, signal });
      if (res.status !== 200) throw new Error(`LIST events${ns === '' ? '' : ` in ${ns}`}: ${statusMessage(res)}`);
      const body = res.body as { items?: KubeEvent[]; metadata?: { resourceVersion?: string; continue?: string } };
      items.push(...(body.items ?? []));
      rv = body.metadata?.resourceVersion ?? rv;
      cont = body.metadata?.continue !== undefined && body.metadata.continue !== '' ? body.metadata.continue : undefined;
    } while (cont !== undefined);
    if (!skip) {
      items.sort((a, b) => {
        const x = rvNumber(a.metadata?.resourceVersion) ?? 0n;
        const y = rvNumber(b.metadata?.resourceVersion) ?? 0n;
        return x < y ? -1 : x > y ? 1 : 0;
      });
      for (const ev of items) {
        await room();
        if (signal.aborted) return rv;
        accept(ns, ev, floor);
      }
    }
    return rv;
  }

  async function runStream(ns: string, from: string | undefined, startFrom: 'all' | 'now', gen: number, signal: AbortSignal): Promise<void> {
    let rv = from;
    let floor = from;
    let first = true;
    let failures = 0;
    while (!signal.aborted && gen === generation) {
      try {
        if (rv === undefined) {
          if (!first) relists++;
          rv = await list(ns, floor, first && startFrom === 'now' && from === undefined, signal);
          received[ns] = rv;
          scheduleFlush();
        }
        first = false;
        let gone = false;
        const res = await o.client.watch(
          streamPath(ns),
          { resourceVersion: rv, allowWatchBookmarks: 'true', timeoutSeconds: String(300 + Math.floor(Math.random() * 300)) },
          async (type, obj) => {
            if (gen !== generation) return;
            const ev = obj as KubeEvent & { code?: number };
            if (type === 'ERROR') {
              if (ev.code === 410) gone = true;
              else log.warn({ status: obj }, 'events: watch error');
              return;
            }
            const objRv = ev.metadata?.resourceVersion;
            if (objRv === undefined) return;
            rv = objRv;
            received[ns] = objRv;
            if (type === 'BOOKMARK') {
              scheduleFlush();
            } else if (type === 'ADDED' || type === 'MODIFIED') {
              accept(ns, ev, floor);
              await room();
            }
          },
          signal,
        );
        if (res.status === 410) gone = true;
        else if (res.status !== 200) throw new Error(`WATCH events${ns === '' ? '' : ` in ${ns}`}: ${statusMessage(res)}`);
        if (gone) {
          // Too old for the watch cache: relist and ship what is newer than what we had.
          log.info({ namespace: ns, resourceVersion: rv }, 'events: resourceVersion expired (410); relisting');
          floor = rv;
          rv = undefined;
        }
        failures = 0;
        await room();
      } catch (err) {
        if (signal.aborted) break;
        failures++;
        log.warn({ err, namespace: ns }, 'events: watch failed; retrying');
        const delay = Math.min(30_000, 500 * 2 ** Math.min(failures, 6)) * Math.random();
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  return {
    start() {
      elector.start();
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      stopDeadline = Date.now() + 5000;
      for (const c of controllers) c.abort();
      if (flushTimer !== undefined) clearTimeout(flushTimer);
      flushTimer = undefined;
      if (elector.isLeader()) {
        while (pending.length > 0 && elector.isLeader() && Date.now() < stopDeadline) await flush();
        await flush();
      }
      await flushing;
      await elector.shutdown();
    },
    isLeader: () => elector.isLeader(),
    stats: () => ({ leader: elector.isLeader(), shipped, duplicatesDropped: dupes, relists, checkpoint: { ...durable } }),
  };
}

export { CHECKPOINT_ANNOTATION, createEventsSource, rvAfter };
export type { EventsPodMetadata, EventsSource, EventsSourceOptions };
