// Trimming raw Kubernetes JSON (from LIST/WATCH or a file) into the small records the cache keeps.
// Everything not read later is dropped on arrival so a pod costs well under 1 KB of heap
// (measured by bench/kube-metadata/run.ts); see LESSONS.md "API server load and memory".
import type { ContainerInfo, ObjectMetaInfo, OwnedInfo, OwnerInfo, PodInfo } from './types.ts';

/** Which label/annotation keys of one object kind survive trimming. */
export type KeyFilter = 'all' | ((key: string) => boolean);

export interface TrimFilters {
  readonly podLabels: KeyFilter;
  readonly podAnnotations: KeyFilter;
  readonly namespaceLabels: KeyFilter;
  readonly namespaceAnnotations: KeyFilter;
  readonly nodeLabels: KeyFilter;
  readonly nodeAnnotations: KeyFilter;
}

/**
 * Shares equal values between records: low-cardinality strings (namespace, node, image, label values,
 * owner names) and whole frozen label maps and owner references, which every pod of one ReplicaSet or
 * Job has in common. JSON.parse gives every pod its own copies. Each pool is bounded: it is dropped
 * when it grows past `max`, which only loses sharing, never data.
 */
export class StringPool {
  private strings = new Map<string, string>();
  private maps = new Map<number, Readonly<Record<string, string>>>();
  private owners = new Map<string, OwnerInfo>();
  private readonly max: number;
  constructor(max = 100_000) {
    this.max = max;
  }
  get(s: string): string {
    const hit = this.strings.get(s);
    if (hit !== undefined) return hit;
    if (this.strings.size >= this.max) this.strings = new Map();
    this.strings.set(s, s);
    return s;
  }
  /**
   * One frozen object per distinct label/annotation map. Keyed by a 32-bit hash (a small integer, so no
   * key string is kept per distinct map); equal content is checked on every hit.
   */
  map(m: Record<string, string>): Readonly<Record<string, string>> {
    let h = 0x811c9dc5;
    let n = 0;
    for (const k in m) {
      h = fnv(fnv(h, k), m[k] ?? '');
      n++;
    }
    const hit = this.maps.get(h);
    if (hit !== undefined && sameMap(hit, m, n)) return hit;
    if (this.maps.size >= this.max) this.maps = new Map();
    const frozen = Object.freeze(m);
    // On a collision the newer map takes the slot; the older one simply stops being shared.
    this.maps.set(h, frozen);
    return frozen;
  }
  owner(kind: string, name: string, uid: string): OwnerInfo {
    const hit = this.owners.get(uid);
    if (hit !== undefined && hit.kind === kind && hit.name === name) return hit;
    if (this.owners.size >= this.max) this.owners = new Map();
    const o: OwnerInfo = Object.freeze({ kind: this.get(kind), name: this.get(name), uid });
    this.owners.set(uid, o);
    return o;
  }
}

function fnv(h: number, s: string): number {
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return Math.imul(h ^ 0xff, 0x01000193) | 0;
}

function sameMap(a: Readonly<Record<string, string>>, b: Record<string, string>, n: number): boolean {
  let count = 0;
  for (const k in a) {
    if (a[k] !== b[k]) return false;
    count++;
  }
  return count === n;
}

type Raw = Record<string, unknown>;

function obj(v: unknown): Raw | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Raw) : undefined;
}
function str(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  // client-node's typed API deserialises timestamps to Date; accept those too.
  if (v instanceof Date) return v.toISOString().replace(/\.000Z$/, 'Z');
  return undefined;
}
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

const CONTAINER_ID_PREFIX = /^[a-z0-9-]+:\/\//;

/** `containerd://abc` → `abc`; IDs without a prefix are returned as they are. */
export function stripContainerId(id: string): string {
  return id.replace(CONTAINER_ID_PREFIX, '');
}

/**
 * The stripped ID as a flat string of its own: a substring would be a V8 sliced string that keeps the
 * whole `containerd://…` original alive (measured: ~48 bytes more per container).
 */
function ownContainerId(id: string): string {
  const stripped = stripContainerId(id);
  return stripped === id ? id : Buffer.from(stripped, 'latin1').toString('latin1');
}

function filterMap(v: unknown, filter: KeyFilter, pool: StringPool): Readonly<Record<string, string>> | undefined {
  const m = obj(v);
  if (m === undefined) return undefined;
  let out: Record<string, string> | undefined;
  for (const k in m) {
    const val = m[k];
    if (typeof val !== 'string') continue;
    if (filter !== 'all' && !filter(k)) continue;
    // Never keep kubectl's last-applied copy of the whole object; it is often larger than the pod.
    if (k === 'kubectl.kubernetes.io/last-applied-configuration') continue;
    (out ??= {})[k] = val.length <= 64 ? pool.get(val) : val;
  }
  return out === undefined ? undefined : pool.map(out);
}

function controllerOf(meta: Raw, pool: StringPool): OwnerInfo | undefined {
  for (const r of arr(meta.ownerReferences)) {
    const ref = obj(r);
    if (ref === undefined || ref.controller !== true) continue;
    const kind = str(ref.kind);
    const name = str(ref.name);
    if (kind === undefined || name === undefined) continue;
    return pool.owner(kind, name, str(ref.uid) ?? '');
  }
  return undefined;
}

const EMPTY: readonly never[] = Object.freeze([]);

/** V8 gives a pushed-to array spare capacity (17 slots after the first push); keep only what is used. */
function exact<T>(a: T[]): readonly T[] {
  return a.length === 0 ? EMPTY : a.slice();
}

const PHASES = ['Pending', 'Running', 'Succeeded', 'Failed', 'Unknown'] as const;
function phaseOf(v: unknown): string | undefined {
  const s = str(v);
  if (s === undefined) return undefined;
  return PHASES.find((p) => p === s) ?? s;
}

// Records are classes with a `metadata` getter returning the record itself, so client-node's
// ListWatch (which files objects under metadata.namespace/name and compares metadata.resourceVersion)
// can hold the trimmed record directly; no second copy of the object is kept.
export class PodRecord implements PodInfo {
  uid: string;
  name: string;
  namespace: string;
  resourceVersion: string;
  labels: Readonly<Record<string, string>> | undefined;
  annotations: Readonly<Record<string, string>> | undefined;
  owner: OwnerInfo | undefined;
  nodeName: string | undefined;
  hostNetwork: boolean;
  /** One IP is kept as the string itself (most pods): an array costs ~56 bytes more per pod. */
  ips: string | readonly string[];
  phase: string | undefined;
  /** Seconds since the epoch (a small integer: no heap allocation), or -1. API timestamps have no fraction. */
  createdSec: number;
  startSec: number;
  deletionTimestamp: string | undefined;
  containers: readonly ContainerInfo[];
  deletedAt: number | undefined;
  /** Order of first arrival; breaks ties between pods created in the same second. */
  seq: number;
  constructor(uid: string, name: string, namespace: string, resourceVersion: string) {
    this.uid = uid;
    this.name = name;
    this.namespace = namespace;
    this.resourceVersion = resourceVersion;
    this.labels = undefined;
    this.annotations = undefined;
    this.owner = undefined;
    this.nodeName = undefined;
    this.hostNetwork = false;
    this.ips = EMPTY;
    this.phase = undefined;
    this.createdSec = -1;
    this.startSec = -1;
    this.deletionTimestamp = undefined;
    this.containers = EMPTY;
    this.deletedAt = undefined;
    this.seq = 0;
  }
  get podIPs(): readonly string[] {
    return typeof this.ips === 'string' ? [this.ips] : this.ips;
  }
  get creationTimestamp(): string | undefined {
    return rfc3339(this.createdSec);
  }
  get startTime(): string | undefined {
    return rfc3339(this.startSec);
  }
  get metadata(): this {
    return this;
  }
}

function seconds(v: string | undefined): number {
  if (v === undefined) return -1;
  const ms = Date.parse(v);
  // `| 0` keeps it a small integer (Smi) in the record rather than a boxed double (good until 2038).
  return Number.isFinite(ms) ? (ms / 1000) | 0 : -1;
}

function rfc3339(sec: number): string | undefined {
  return sec < 0 ? undefined : new Date(sec * 1000).toISOString().replace('.000Z', 'Z');
}

export class MetaRecord implements ObjectMetaInfo {
  uid: string;
  name: string;
  resourceVersion: string;
  labels: Readonly<Record<string, string>> | undefined;
  annotations: Readonly<Record<string, string>> | undefined;
  constructor(uid: string, name: string, resourceVersion: string) {
    this.uid = uid;
    this.name = name;
    this.resourceVersion = resourceVersion;
    this.labels = undefined;
    this.annotations = undefined;
  }
  get metadata(): { name: string; resourceVersion: string } {
    return this;
  }
}

export class OwnedRecord implements OwnedInfo {
  uid: string;
  name: string;
  namespace: string;
  resourceVersion: string;
  owner: OwnerInfo | undefined;
  constructor(uid: string, name: string, namespace: string, resourceVersion: string, owner: OwnerInfo | undefined) {
    this.uid = uid;
    this.name = name;
    this.namespace = namespace;
    this.resourceVersion = resourceVersion;
    this.owner = owner;
  }
  get metadata(): this {
    return this;
  }
}

function metaOf(raw: unknown): Raw | undefined {
  const o = obj(raw);
  return o === undefined ? undefined : obj(o.metadata);
}

export function trimPod(raw: unknown, filters: TrimFilters, pool: StringPool): PodRecord | undefined {
  const o = obj(raw);
  const meta = metaOf(raw);
  if (o === undefined || meta === undefined) return undefined;
  const uid = str(meta.uid);
  const name = str(meta.name);
  const namespace = str(meta.namespace);
  if (uid === undefined || name === undefined || namespace === undefined) return undefined;
  const p = new PodRecord(uid, name, pool.get(namespace), str(meta.resourceVersion) ?? '');
  p.labels = filterMap(meta.labels, filters.podLabels, pool);
  p.annotations = filterMap(meta.annotations, filters.podAnnotations, pool);
  p.owner = controllerOf(meta, pool);
  p.createdSec = seconds(str(meta.creationTimestamp));
  p.deletionTimestamp = str(meta.deletionTimestamp);
  const spec = obj(o.spec) ?? {};
  const status = obj(o.status) ?? {};
  const node = str(spec.nodeName);
  p.nodeName = node === undefined ? undefined : pool.get(node);
  p.hostNetwork = spec.hostNetwork === true;
  const ips: string[] = [];
  for (const e of arr(status.podIPs)) {
    const ip = str(obj(e)?.ip);
    if (ip !== undefined && !ips.includes(ip)) ips.push(ip);
  }
  const podIP = str(status.podIP);
  if (podIP !== undefined && !ips.includes(podIP)) ips.unshift(podIP);
  p.ips = ips.length === 1 && ips[0] !== undefined ? ips[0] : exact(ips);
  p.phase = phaseOf(status.phase);
  p.startSec = seconds(str(status.startTime));
  p.containers = containersOf(spec, status, pool);
  return p;
}

function containersOf(spec: Raw, status: Raw, pool: StringPool): readonly ContainerInfo[] {
  const statuses = new Map<string, Raw>();
  for (const list of [status.initContainerStatuses, status.containerStatuses, status.ephemeralContainerStatuses]) {
    for (const s of arr(list)) {
      const so = obj(s);
      const n = so === undefined ? undefined : str(so.name);
      if (so !== undefined && n !== undefined) statuses.set(n, so);
    }
  }
  const out: ContainerInfo[] = [];
  const seen = new Set<string>();
  const add = (name: string, image: string | undefined, st: Raw | undefined): void => {
    seen.add(name);
    const cid = st === undefined ? undefined : str(st.containerID);
    const imageId = st === undefined ? undefined : str(st.imageID);
    out.push({
      name: pool.get(name),
      image: image === undefined ? undefined : pool.get(image),
      containerId: cid === undefined || cid === '' ? undefined : ownContainerId(cid),
      imageId: imageId === undefined || imageId === '' ? undefined : pool.get(imageId),
    });
  };
  for (const list of [spec.initContainers, spec.containers, spec.ephemeralContainers]) {
    for (const c of arr(list)) {
      const co = obj(c);
      const n = co === undefined ? undefined : str(co.name);
      if (co === undefined || n === undefined) continue;
      add(n, str(co.image), statuses.get(n));
    }
  }
  // A status without a spec entry (a file source with status only) still carries IDs.
  for (const [n, st] of statuses) if (!seen.has(n)) add(n, str(st.image), st);
  return exact(out);
}

export function trimMeta(raw: unknown, labels: KeyFilter, annotations: KeyFilter, pool: StringPool): MetaRecord | undefined {
  const meta = metaOf(raw);
  if (meta === undefined) return undefined;
  const name = str(meta.name);
  if (name === undefined) return undefined;
  const r = new MetaRecord(str(meta.uid) ?? '', pool.get(name), str(meta.resourceVersion) ?? '');
  r.labels = filterMap(meta.labels, labels, pool);
  r.annotations = filterMap(meta.annotations, annotations, pool);
  return r;
}

export function trimOwned(raw: unknown, pool: StringPool): OwnedRecord | undefined {
  const meta = metaOf(raw);
  if (meta === undefined) return undefined;
  const name = str(meta.name);
  const namespace = str(meta.namespace);
  if (name === undefined || namespace === undefined) return undefined;
  return new OwnedRecord(str(meta.uid) ?? '', name, pool.get(namespace), str(meta.resourceVersion) ?? '', controllerOf(meta, pool));
}
