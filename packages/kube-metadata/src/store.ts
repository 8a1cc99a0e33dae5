// The indexes over trimmed records, the grace period of deleted pods and the waiters of waitForPod.
// One store per cache; fed by either the API-server informers or the file source.
import { stripContainerId } from './trim.ts';
import type { MetaRecord, OwnedRecord, PodRecord } from './trim.ts';
import type { PodKey } from './types.ts';

interface Waiter {
  readonly key: PodKey;
  readonly resolve: (p: PodRecord | undefined) => void;
  timer: NodeJS.Timeout | undefined;
}

/** True when `a` is a newer pod than `b`: later creationTimestamp, then startTime, then first arrival. */
export function isNewer(a: PodRecord, b: PodRecord): boolean {
  if (a.createdSec !== b.createdSec) return a.createdSec > b.createdSec;
  if (a.startSec !== b.startSec) return a.startSec > b.startSec;
  return a.seq > b.seq;
}

/** Pod IPs that may be used to find this pod: running, not hostNetwork, not deleted. */
function ipsOf(p: PodRecord): readonly string[] {
  if (p.hostNetwork || p.phase !== 'Running' || p.deletedAt !== undefined) return [];
  return p.podIPs;
}

function nsName(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** namespace → name → uid. Nested so no `ns/name` key string is allocated per pod. */
class NameIndex {
  private readonly m = new Map<string, Map<string, string>>();
  get(ns: string, name: string): string | undefined {
    return this.m.get(ns)?.get(name);
  }
  has(ns: string, name: string): boolean {
    return this.m.get(ns)?.has(name) ?? false;
  }
  set(ns: string, name: string, uid: string): void {
    let inner = this.m.get(ns);
    if (inner === undefined) this.m.set(ns, (inner = new Map<string, string>()));
    inner.set(name, uid);
  }
  delete(ns: string, name: string): void {
    const inner = this.m.get(ns);
    if (inner === undefined) return;
    inner.delete(name);
    if (inner.size === 0) this.m.delete(ns);
  }
}

export class MetadataStore {
  /** Every known pod by UID, including deleted pods still in their grace period. */
  readonly pods = new Map<string, PodRecord>();
  readonly namespaces = new Map<string, MetaRecord>();
  readonly nodes = new Map<string, MetaRecord>();
  /** ReplicaSets and Jobs by namespace/name. */
  readonly replicaSets = new Map<string, OwnedRecord>();
  readonly jobs = new Map<string, OwnedRecord>();
  /** Bumped whenever a namespace, node, ReplicaSet or Job changes; attribute memos compare it. */
  generation = 0;

  private readonly byName = new NameIndex();
  private readonly byIp = new Map<string, string>();
  private readonly byContainer = new Map<string, string>();
  private deleted: PodRecord[] = [];
  private deletedHead = 0;
  private deletedCount = 0;
  private evictTimer: NodeJS.Timeout | undefined;
  private readonly waiters = new Set<Waiter>();
  private seq = 0;
  private closed = false;
  private readonly graceMs: number;
  private readonly now: () => number;
  private readonly onEvict: ((p: PodRecord) => void) | undefined;

  constructor(options: { deletedPodGraceMs: number; now?: () => number; onEvict?: (p: PodRecord) => void }) {
    this.graceMs = options.deletedPodGraceMs;
    this.now = options.now ?? Date.now;
    this.onEvict = options.onEvict;
  }

  get livePodCount(): number {
    return this.pods.size - this.deletedCount;
  }
  get deletedPodCount(): number {
    return this.deletedCount;
  }

  get(key: PodKey): PodRecord | undefined {
    if ('uid' in key) return this.pods.get(key.uid);
    if ('name' in key) return this.podAt(this.byName.get(key.namespace, key.name));
    if ('ip' in key) return this.podAt(this.byIp.get(key.ip));
    return this.podAt(this.byContainer.get(stripContainerId(key.containerId)));
  }

  private podAt(uid: string | undefined): PodRecord | undefined {
    return uid === undefined ? undefined : this.pods.get(uid);
  }

  upsertPod(p: PodRecord): void {
    if (this.closed) return;
    const prev = this.pods.get(p.uid);
    p.seq = prev?.seq ?? ++this.seq;
    if (prev?.deletedAt !== undefined) {
      // The API server says it exists again (a relist after a missed window): it is live.
      this.forgetDeleted(prev);
    }
    this.pods.set(p.uid, p);

    const holder = this.podAt(this.byName.get(p.namespace, p.name));
    if (holder === undefined || holder.uid === p.uid || isNewer(p, holder)) {
      this.byName.set(p.namespace, p.name, p.uid);
      // Two live pods cannot share a namespace/name. If a relist replaced a StatefulSet pod under the
      // same name, client-node reports an update, not a delete, so the old UID is retired here.
      if (holder !== undefined && holder.uid !== p.uid && holder.deletedAt === undefined) this.markDeleted(holder);
    }

    const prevIds = prev?.containers ?? [];
    for (const c of prevIds) {
      if (c.containerId === undefined) continue;
      if (!p.containers.some((n) => n.containerId === c.containerId) && this.byContainer.get(c.containerId) === p.uid) {
        this.byContainer.delete(c.containerId);
      }
    }
    for (const c of p.containers) if (c.containerId !== undefined) this.byContainer.set(c.containerId, p.uid);

    const newIps = ipsOf(p);
    if (prev !== undefined) {
      for (const ip of ipsOf(prev)) if (!newIps.includes(ip) && this.byIp.get(ip) === p.uid) this.byIp.delete(ip);
    }
    for (const ip of newIps) {
      const owner = this.podAt(this.byIp.get(ip));
      // The newest pod owns an IP; a late update or delete of the old pod never takes it back.
      // see LESSONS.md "Name and IP reuse" (OTC#42978)
      if (owner === undefined || owner.uid === p.uid || !ipsOf(owner).includes(ip) || isNewer(p, owner)) this.byIp.set(ip, p.uid);
    }
    this.wake();
  }

  /** A delete event (or the pod vanished from a relist or the file): keep it for the grace period. */
  deletePod(p: PodRecord): void {
    if (this.closed) return;
    const cur = this.pods.get(p.uid);
    if (cur?.deletedAt !== undefined) return;
    if (cur !== undefined && cur !== p) {
      // Keep the last state we had but take fresher fields from the delete event's object.
      p.seq = cur.seq;
    } else if (cur === undefined) {
      p.seq = ++this.seq;
    }
    this.pods.set(p.uid, p);
    if (cur !== undefined && cur !== p) {
      for (const c of cur.containers) {
        if (c.containerId !== undefined && !p.containers.some((n) => n.containerId === c.containerId) && this.byContainer.get(c.containerId) === p.uid) {
          this.byContainer.delete(c.containerId);
        }
      }
    }
    for (const c of p.containers) if (c.containerId !== undefined && !this.byContainer.has(c.containerId)) this.byContainer.set(c.containerId, p.uid);
    if (!this.byName.has(p.namespace, p.name)) this.byName.set(p.namespace, p.name, p.uid);
    this.markDeleted(p);
  }

  private markDeleted(p: PodRecord): void {
    p.deletedAt = this.now();
    this.deletedCount++;
    for (const ip of p.podIPs) if (this.byIp.get(ip) === p.uid) this.byIp.delete(ip);
    this.deleted.push(p);
    this.scheduleEvict();
  }

  private forgetDeleted(p: PodRecord): void {
    p.deletedAt = undefined;
    this.deletedCount--;
    // Left in the FIFO; evict() skips records that are no longer deleted or no longer current.
  }

  private scheduleEvict(): void {
    if (this.evictTimer !== undefined || this.closed) return;
    const head = this.deleted[this.deletedHead];
    if (head === undefined) return;
    const due = (head.deletedAt ?? this.now()) + this.graceMs - this.now();
    this.evictTimer = setTimeout(() => {
      this.evictTimer = undefined;
      this.evictDue();
    }, Math.max(0, due));
    // Eviction must never keep the process alive.
    this.evictTimer.unref();
  }

  /** Evicts every deleted pod whose grace period is over. */
  evictDue(): void {
    const now = this.now();
    while (this.deletedHead < this.deleted.length) {
      const p = this.deleted[this.deletedHead];
      if (p === undefined) break;
      if (p.deletedAt !== undefined && p.deletedAt + this.graceMs > now) break;
      this.deletedHead++;
      if (p.deletedAt === undefined || this.pods.get(p.uid) !== p) continue;
      this.evict(p);
    }
    if (this.deletedHead > 1024 && this.deletedHead * 2 > this.deleted.length) {
      this.deleted = this.deleted.slice(this.deletedHead);
      this.deletedHead = 0;
    }
    this.scheduleEvict();
  }

  private evict(p: PodRecord): void {
    this.pods.delete(p.uid);
    this.deletedCount--;
    // A newer pod of that name already holds the entry, so only our own entry goes.
    if (this.byName.get(p.namespace, p.name) === p.uid) this.byName.delete(p.namespace, p.name);
    for (const c of p.containers) if (c.containerId !== undefined && this.byContainer.get(c.containerId) === p.uid) this.byContainer.delete(c.containerId);
    for (const ip of p.podIPs) if (this.byIp.get(ip) === p.uid) this.byIp.delete(ip);
    this.onEvict?.(p);
  }

  /** Replaces the whole pod set (file reload): pods not in `pods` are deleted. */
  replacePods(pods: readonly PodRecord[]): void {
    const keep = new Set(pods.map((p) => p.uid));
    for (const p of [...this.pods.values()]) if (p.deletedAt === undefined && !keep.has(p.uid)) this.deletePod(p);
    for (const p of pods) this.upsertPod(p);
  }

  // Label/annotation maps and owner refs are shared (pooled) objects, so an unchanged object compares
  // equal by reference. Status-only updates (a new resourceVersion, same content) then leave the
  // generation, and with it every memoised attribute list, alone.
  setNamespace(r: MetaRecord): void {
    const prev = this.namespaces.get(r.name);
    this.namespaces.set(r.name, r);
    if (prev === undefined || prev.labels !== r.labels || prev.annotations !== r.annotations) this.generation++;
    this.wake();
  }
  deleteNamespace(name: string): void {
    if (this.namespaces.delete(name)) this.generation++;
  }
  setNode(r: MetaRecord): void {
    const prev = this.nodes.get(r.name);
    this.nodes.set(r.name, r);
    if (prev === undefined || prev.labels !== r.labels || prev.annotations !== r.annotations) this.generation++;
  }
  deleteNode(name: string): void {
    if (this.nodes.delete(name)) this.generation++;
  }
  setReplicaSet(r: OwnedRecord): void {
    const k = nsName(r.namespace, r.name);
    const prev = this.replicaSets.get(k);
    this.replicaSets.set(k, r);
    if (prev === undefined || prev.owner !== r.owner) this.generation++;
  }
  deleteReplicaSet(namespace: string, name: string): void {
    if (this.replicaSets.delete(nsName(namespace, name))) this.generation++;
  }
  setJob(r: OwnedRecord): void {
    const k = nsName(r.namespace, r.name);
    const prev = this.jobs.get(k);
    this.jobs.set(k, r);
    if (prev === undefined || prev.owner !== r.owner) this.generation++;
  }
  deleteJob(namespace: string, name: string): void {
    if (this.jobs.delete(nsName(namespace, name))) this.generation++;
  }
  replicaSet(namespace: string, name: string): OwnedRecord | undefined {
    return this.replicaSets.get(nsName(namespace, name));
  }
  job(namespace: string, name: string): OwnedRecord | undefined {
    return this.jobs.get(nsName(namespace, name));
  }

  /** Waits up to `timeoutMs` for a pod matching `key` to arrive; resolved by upserts, not polling. */
  waitFor(key: PodKey, timeoutMs: number): Promise<PodRecord | undefined> {
    const hit = this.get(key);
    if (hit !== undefined || this.closed || timeoutMs <= 0) return Promise.resolve(hit);
    return new Promise((resolve) => {
      const w: Waiter = {
        key,
        resolve: (p) => {
          if (w.timer !== undefined) clearTimeout(w.timer);
          this.waiters.delete(w);
          resolve(p);
        },
        timer: undefined,
      };
      w.timer = setTimeout(() => w.resolve(this.get(key)), timeoutMs);
      this.waiters.add(w);
    });
  }

  private wake(): void {
    if (this.waiters.size === 0) return;
    for (const w of [...this.waiters]) {
      const p = this.get(w.key);
      if (p !== undefined) w.resolve(p);
    }
  }

  close(): void {
    this.closed = true;
    if (this.evictTimer !== undefined) clearTimeout(this.evictTimer);
    this.evictTimer = undefined;
    for (const w of [...this.waiters]) w.resolve(undefined);
  }
}
