// Leader election on a coordination.k8s.io/v1 Lease, the client-go algorithm: a candidate takes
// the Lease when it is free or when its holder/renewTime has not changed for leaseDuration as seen
// on the candidate's own clock (no clock comparison between replicas); the leader renews every
// renewInterval and steps down when it could not renew for renewDeadline (< leaseDuration, so it
// stops before anyone else may start). Every write is a PUT with the last seen resourceVersion, so
// two replicas can never both believe they won.
//
// The Lease also carries the events checkpoint (an annotation): the leader writes it after each
// batch is durable in its queue, through the same serialised writes as the renewals, so a write
// by a deposed leader fails with 409 instead of moving the checkpoint.
import type { Logger } from '@sextant/pipeline';
import type { KubeClient } from './kube.ts';
import { statusMessage } from './kube.ts';

interface LeaseObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace: string; resourceVersion?: string; annotations?: Record<string, string> };
  spec: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

interface LeaderElectorOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewIntervalMs: number;
  retryIntervalMs: number;
  renewDeadlineMs: number;
  /** Annotation that holds the checkpoint. */
  checkpointAnnotation: string;
  logger: Logger;
  /** Called when this replica became the leader, with the checkpoint found on the Lease. */
  onStartedLeading(checkpoint: string | undefined): void;
  /** Called when it stopped being the leader (lost, expired or shutdown). */
  onStoppedLeading(reason: string): void;
}

interface LeaderElector {
  start(): void;
  /** Steps down (releasing the Lease so another replica takes over at once) and stops. */
  shutdown(): Promise<void>;
  isLeader(): boolean;
  /** Writes the checkpoint annotation (and renews). False when not leader or the write failed. */
  saveCheckpoint(value: string): Promise<boolean>;
}

/** MicroTime: RFC 3339 with exactly six fractional digits (what the API server parses). */
function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}

function createLeaderElector(o: LeaderElectorOptions): LeaderElector {
  const path = `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(o.namespace)}/leases`;
  const itemPath = `${path}/${encodeURIComponent(o.name)}`;
  let lease: LeaseObject | undefined;
  let leader = false;
  let stopped = false;
  let lastRenew = 0;
  let observed: { key: string; at: number } | undefined;
  let checkpoint: string | undefined;
  let writes: Promise<unknown> = Promise.resolve();
  let loop: Promise<void> | undefined;
  let wake: (() => void) | undefined;
  const now = (): number => performance.now();

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        wake = undefined;
        resolve();
      }
      wake = done;
    });
  }

  function stepDown(reason: string): void {
    if (!leader) return;
    leader = false;
    o.logger.warn({ lease: `${o.namespace}/${o.name}`, identity: o.identity, reason }, 'events: no longer the leader');
    o.onStoppedLeading(reason);
  }

  /** Serialised PUT of the lease with `mutate` applied; 'conflict' when someone else wrote it. */
  function put(mutate: (l: LeaseObject) => void): Promise<'ok' | 'conflict' | 'error'> {
    const run = async (): Promise<'ok' | 'conflict' | 'error'> => {
      const cur = lease;
      if (cur === undefined) return 'error';
      const next: LeaseObject = structuredClone(cur);
      mutate(next);
      try {
        const res = await o.client.request('PUT', itemPath, { body: next });
        if (res.status === 200) {
          lease = res.body as LeaseObject;
          return 'ok';
        }
        if (res.status === 409) return 'conflict';
        o.logger.warn({ lease: `${o.namespace}/${o.name}`, status: statusMessage(res) }, 'events: lease update failed');
        return 'error';
      } catch (err) {
        o.logger.warn({ err, lease: `${o.namespace}/${o.name}` }, 'events: lease update failed');
        return 'error';
      }
    };
    const p = writes.then(run, run);
    writes = p;
    return p;
  }

  function renewMutation(l: LeaseObject): void {
    l.spec.renewTime = microTime(Date.now());
    l.spec.holderIdentity = o.identity;
    l.spec.leaseDurationSeconds = Math.ceil(o.leaseDurationMs / 1000);
    if (checkpoint !== undefined) l.metadata.annotations = { ...l.metadata.annotations, [o.checkpointAnnotation]: checkpoint };
  }

  async function tryAcquire(): Promise<boolean> {
    const res = await o.client.request('GET', itemPath);
    const t = Date.now();
    if (res.status === 404) {
      const body: LeaseObject = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: { name: o.name, namespace: o.namespace },
        spec: { holderIdentity: o.identity, leaseDurationSeconds: Math.ceil(o.leaseDurationMs / 1000), acquireTime: microTime(t), renewTime: microTime(t), leaseTransitions: 0 },
      };
      const created = await o.client.request('POST', path, { body });
      if (created.status !== 201 && created.status !== 200) {
        if (created.status !== 409) o.logger.warn({ status: statusMessage(created) }, 'events: cannot create the lease');
        return false;
      }
      lease = created.body as LeaseObject;
      return true;
    }
    if (res.status !== 200) {
      o.logger.warn({ lease: `${o.namespace}/${o.name}`, status: statusMessage(res) }, 'events: cannot read the lease');
      return false;
    }
    const cur = res.body as LeaseObject;
    lease = cur;
    const holder = cur.spec.holderIdentity ?? '';
    const key = `${holder}|${cur.spec.renewTime ?? ''}|${cur.metadata.resourceVersion ?? ''}`;
    if (observed?.key !== key) observed = { key, at: now() };
    const durationMs = (cur.spec.leaseDurationSeconds ?? Math.ceil(o.leaseDurationMs / 1000)) * 1000;
    const free = holder === '' || holder === o.identity || now() - observed.at >= durationMs;
    if (!free) return false;
    const result = await put((l) => {
      if (holder !== o.identity) {
        l.spec.acquireTime = microTime(t);
        l.spec.leaseTransitions = (l.spec.leaseTransitions ?? 0) + 1;
      }
      l.spec.holderIdentity = o.identity;
      l.spec.leaseDurationSeconds = Math.ceil(o.leaseDurationMs / 1000);
      l.spec.renewTime = microTime(t);
    });
    return result === 'ok';
  }

  async function run(): Promise<void> {
    while (!stopped) {
      if (!leader) {
        let won = false;
        try {
          won = await tryAcquire();
        } catch (err) {
          o.logger.warn({ err }, 'events: lease acquisition failed');
        }
        if (stopped) break;
        if (won) {
          leader = true;
          lastRenew = now();
          const cp = lease?.metadata.annotations?.[o.checkpointAnnotation];
          checkpoint = cp;
          o.logger.info({ lease: `${o.namespace}/${o.name}`, identity: o.identity, checkpoint: cp }, 'events: became the leader');
          o.onStartedLeading(cp);
          await sleep(o.renewIntervalMs);
        } else {
          await sleep(o.retryIntervalMs);
        }
        continue;
      }
      const r = await put(renewMutation);
      if (stopped) break;
      if (r === 'ok') {
        lastRenew = now();
        await sleep(o.renewIntervalMs);
      } else if (r === 'conflict') {
        stepDown('the lease was written by another replica');
      } else if (now() - lastRenew > o.renewDeadlineMs) {
        stepDown(`could not renew the lease for ${o.renewDeadlineMs} ms`);
      } else {
        await sleep(o.retryIntervalMs);
      }
    }
  }

  return {
    start() {
      loop = run().catch((err: unknown) => o.logger.error({ err }, 'events: leader election stopped'));
    },
    async shutdown() {
      if (stopped) return;
      stopped = true;
      wake?.();
      await loop;
      if (leader) {
        leader = false;
        o.onStoppedLeading('shutdown');
        // Release: another replica takes over at its next retry instead of after leaseDuration.
        await put((l) => {
          renewMutation(l);
          delete l.spec.holderIdentity;
          l.spec.leaseDurationSeconds = 1;
        });
      }
      await writes.catch(() => undefined);
    },
    isLeader: () => leader && now() - lastRenew <= o.renewDeadlineMs,
    async saveCheckpoint(value) {
      if (!leader) return false;
      checkpoint = value;
      const r = await put(renewMutation);
      if (r === 'ok') {
        lastRenew = now();
        return true;
      }
      if (r === 'conflict') stepDown('the lease was written by another replica');
      return false;
    },
  };
}

export { createLeaderElector, microTime };
export type { LeaderElector, LeaderElectorOptions, LeaseObject };
