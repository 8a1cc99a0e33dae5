// createMetadataCache: the API-server watch cache used by enrichment and the trace receiver.
// see ARCHITECTURE.md "Metadata" and LESSONS.md "Wrong or missing metadata".
import { SERVICE_ANNOTATION_PREFIX, computeAttributes } from './attributes.ts';
import { KubeMetadataError } from './errors.ts';
import { compileRules, rulesNeed } from './rules.ts';
import type { CompiledRule } from './rules.ts';
import type { LoadCredentialsOptions } from './credentials.ts';
import type { ListedObject } from './listwatch.ts';
import { createApiSource } from './source-api.ts';
import type { ApiSource, InformerEngine, KindHandlers } from './source-api.ts';
import { createKubeTransport } from './transport.ts';
import { readObjectFile, watchFile } from './source-file.ts';
import { MetadataStore } from './store.ts';
import { StringPool, trimMeta, trimOwned, trimPod } from './trim.ts';
import type { KeyFilter, MetaRecord, OwnedRecord, PodRecord, TrimFilters } from './trim.ts';
import type { ExtractRule, MissReason, ObjectMetaInfo, PodInfo, PodKey } from './types.ts';

export type MetadataSource =
  | { readonly kind: 'in-cluster' }
  | { readonly kind: 'kubeconfig'; readonly path: string; readonly context?: string }
  | { readonly kind: 'file'; readonly path: string; readonly watch?: boolean };

export interface MetadataCacheOptions {
  readonly source: MetadataSource;
  /** Value of `k8s.cluster.name`; omitted when unset. */
  readonly clusterName?: string;
  /**
   * Which informers run besides pods. Each one needs get/list/watch on its kind, so RBAC shrinks
   * with what is turned off. Defaults: namespaces true (namespace exclusion and rules), nodes true
   * only when a rule reads node labels/annotations, owners (ReplicaSets, Jobs) true.
   */
  readonly informers?: { readonly namespaces?: boolean; readonly nodes?: boolean; readonly owners?: boolean };
  /** Label/annotation extraction rules. Default none. */
  readonly rules?: readonly ExtractRule[];
  /** Pods (or whole namespaces) with this annotation value are excluded. Default `sextant.io/exclude: "true"`. */
  readonly exclude?: { readonly annotation?: string; readonly value?: string };
  /** How long a deleted pod stays answerable. Default 600000 (10 min). */
  readonly deletedPodGraceMs?: number;
  /** Default wait of `waitForPod`. Default 2000 ms. */
  readonly waitForPodMs?: number;
  /** Keep every pod label (true) or only those the rules and service.name read. Default true. */
  readonly keepAllPodLabels?: boolean;
  /** Keep every annotation (except kubectl's last-applied copy). Default false: only what is read. */
  readonly keepAllAnnotations?: boolean;
  /** Use `app.kubernetes.io/instance` / `name` labels for service.name (opt-in per semconv). Default false. */
  readonly useWellKnownLabels?: boolean;
  /** Restart backoff after API errors: full jitter, doubling. Default 1000 → 30000 ms. */
  readonly backoff?: { readonly initialMs?: number; readonly maxMs?: number };
  /** Called for every counted miss; feed prom-client from here. */
  readonly onMiss?: (reason: MissReason, key: PodKey) => void;
  /** Called for asynchronous errors (watch failures, file reloads). The cache keeps retrying. */
  readonly onError?: (err: KubeMetadataError) => void;
  /**
   * What runs each informer's LIST/WATCH loop: `sextant` (default; does not load
   * @kubernetes/client-node) or `client-node` (its ListWatch, imported on start: +12.5 MiB of heap).
   * Both use the same transport, trimming and restart policy.
   */
  readonly informerEngine?: InformerEngine;
  /** In-cluster: the environment (KUBERNETES_SERVICE_HOST/PORT) and ServiceAccount directory. Defaults: process.env and the standard mount. */
  readonly inCluster?: LoadCredentialsOptions;
}

export interface MetadataCacheStats {
  readonly synced: boolean;
  readonly pods: number;
  readonly deletedPods: number;
  readonly namespaces: number;
  readonly nodes: number;
  readonly replicaSets: number;
  readonly jobs: number;
  readonly misses: Readonly<Record<MissReason, number>>;
  /** Lookups that found the pod only after waiting. */
  readonly foundAfterWait: number;
  readonly relists: number;
  readonly errors: number;
  readonly evictedPods: number;
}

export interface MetadataCache {
  /** Starts the informers (or reads the file) and returns without waiting for the sync. */
  start(): Promise<void>;
  /** Stops informers, watches and timers; pending waitForPod calls resolve undefined. */
  shutdown(): Promise<void>;
  /** True once the initial LIST of every enabled kind has been applied. */
  readonly synced: boolean;
  /** Resolves true once synced, or false after `timeoutMs` (no timeout when omitted) or shutdown. */
  waitForSync(timeoutMs?: number): Promise<boolean>;
  /** Immediate lookup, including deleted pods in their grace period. Not counted. */
  getPod(key: PodKey): PodInfo | undefined;
  /** Lookup that waits up to `timeoutMs` (default `waitForPodMs`) for an unknown pod; misses are counted. */
  waitForPod(key: PodKey, timeoutMs?: number): Promise<PodInfo | undefined>;
  getNamespace(name: string): ObjectMetaInfo | undefined;
  getNode(name: string): ObjectMetaInfo | undefined;
  /** Resource attributes for the pod (and one of its containers), as [key, value] string pairs. */
  attributesFor(pod: PodInfo, containerName?: string): Array<[string, string]>;
  /** True when the pod or its namespace carries the exclusion annotation. */
  isExcluded(pod: PodInfo): boolean;
  stats(): MetadataCacheStats;
}

const WELL_KNOWN_LABELS = ['app.kubernetes.io/instance', 'app.kubernetes.io/name', 'pod-template-hash'];

function positive(name: string, v: number | undefined, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  if (!Number.isFinite(v) || v < 0 || (!allowZero && v === 0)) {
    throw new KubeMetadataError('SEXTANT_KUBE_INVALID_OPTION', `${name} is ${String(v)}; valid: a finite number ${allowZero ? '>= 0' : '> 0'} (ms)`);
  }
  return v;
}

function keyOk(key: PodKey | undefined): boolean {
  if (key === undefined || key === null || typeof key !== 'object') return false;
  if ('uid' in key) return typeof key.uid === 'string' && key.uid !== '';
  if ('name' in key) return typeof key.name === 'string' && key.name !== '' && typeof key.namespace === 'string' && key.namespace !== '';
  if ('ip' in key) return typeof key.ip === 'string' && key.ip !== '';
  if ('containerId' in key) return typeof key.containerId === 'string' && key.containerId !== '';
  return false;
}

class Cache implements MetadataCache {
  private readonly opts: MetadataCacheOptions;
  private readonly store: MetadataStore;
  private readonly rules: CompiledRule[];
  private readonly filters: TrimFilters;
  private readonly pool = new StringPool();
  private readonly excludeKey: string;
  private readonly excludeValue: string;
  private readonly waitMs: number;
  private readonly kinds: { namespaces: boolean; nodes: boolean; owners: boolean };
  private readonly pendingSync = new Set<string>();
  private readonly syncWaiters = new Set<(ok: boolean) => void>();
  private readonly misses: Record<MissReason, number> = { no_key: 0, not_synced: 0, not_found_after_wait: 0 };
  private foundAfterWait = 0;
  private relists = 0;
  private errors = 0;
  private evicted = 0;
  private state: 'new' | 'running' | 'stopped' = 'new';
  private starting = false;
  private readonly engine: InformerEngine;
  private api: ApiSource | undefined;
  private fileWatch: { close(): void } | undefined;
  private memo = new WeakMap<PodInfo, { gen: number; byContainer: Map<string, Array<[string, string]>> }>();

  constructor(opts: MetadataCacheOptions) {
    this.opts = opts;
    const src = opts.source as MetadataSource | undefined;
    if (src === undefined || (src.kind !== 'in-cluster' && src.kind !== 'kubeconfig' && src.kind !== 'file')) {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_OPTION', `source.kind is ${JSON.stringify((src as { kind?: unknown } | undefined)?.kind)}; valid: "in-cluster", "kubeconfig", "file"`);
    }
    if ((src.kind === 'file' || src.kind === 'kubeconfig') && (typeof src.path !== 'string' || src.path === '')) {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_OPTION', `source.path is ${JSON.stringify(src.path)}; valid: a file path`);
    }
    const engine = opts.informerEngine ?? 'sextant';
    if (engine !== 'sextant' && engine !== 'client-node') {
      throw new KubeMetadataError('SEXTANT_KUBE_INVALID_OPTION', `informerEngine is ${JSON.stringify(engine)}; valid: "sextant", "client-node"`);
    }
    this.engine = engine;
    this.rules = compileRules(opts.rules ?? []);
    this.excludeKey = opts.exclude?.annotation ?? 'sextant.io/exclude';
    this.excludeValue = opts.exclude?.value ?? 'true';
    this.waitMs = positive('waitForPodMs', opts.waitForPodMs, 2000, true);
    const initialMs = positive('backoff.initialMs', opts.backoff?.initialMs, 1000);
    positive('backoff.maxMs', opts.backoff?.maxMs, Math.max(30_000, initialMs));
    this.store = new MetadataStore({
      deletedPodGraceMs: positive('deletedPodGraceMs', opts.deletedPodGraceMs, 600_000, true),
      onEvict: () => {
        this.evicted++;
      },
    });
    this.kinds = {
      namespaces: opts.informers?.namespaces ?? true,
      nodes: opts.informers?.nodes ?? this.rules.some((r) => r.from === 'node'),
      owners: opts.informers?.owners ?? true,
    };
    const rules = this.rules;
    const need = (from: ExtractRule['from'], source: ExtractRule['source'], extra: (k: string) => boolean): KeyFilter => (k) => extra(k) || rulesNeed(rules, from, source, k);
    const keepAnn = opts.keepAllAnnotations === true;
    const none = (): boolean => false;
    this.filters = {
      podLabels: opts.keepAllPodLabels === false ? need('pod', 'label', (k) => WELL_KNOWN_LABELS.includes(k)) : 'all',
      podAnnotations: keepAnn ? 'all' : need('pod', 'annotation', (k) => k === this.excludeKey || k.startsWith(SERVICE_ANNOTATION_PREFIX)),
      namespaceLabels: need('namespace', 'label', none),
      namespaceAnnotations: keepAnn ? 'all' : need('namespace', 'annotation', (k) => k === this.excludeKey),
      nodeLabels: need('node', 'label', none),
      nodeAnnotations: keepAnn ? 'all' : need('node', 'annotation', none),
    };
  }

  get synced(): boolean {
    return this.state === 'running' && this.pendingSync.size === 0;
  }

  private trimPodRaw = (raw: unknown): PodRecord | undefined => trimPod(raw, this.filters, this.pool);
  private trimNs = (raw: unknown): MetaRecord | undefined => trimMeta(raw, this.filters.namespaceLabels, this.filters.namespaceAnnotations, this.pool);
  private trimNode = (raw: unknown): MetaRecord | undefined => trimMeta(raw, this.filters.nodeLabels, this.filters.nodeAnnotations, this.pool);
  private trimOwnedRaw = (raw: unknown): OwnedRecord | undefined => trimOwned(raw, this.pool);

  private enabledKinds(): string[] {
    const k = ['pods'];
    if (this.kinds.namespaces) k.push('namespaces');
    if (this.kinds.nodes) k.push('nodes');
    if (this.kinds.owners) k.push('replicasets', 'jobs');
    return k;
  }

  async start(): Promise<void> {
    if (this.state === 'stopped') throw new KubeMetadataError('SEXTANT_KUBE_SHUT_DOWN', 'start() called after shutdown(); create a new cache instead');
    if (this.state !== 'new' || this.starting) throw new KubeMetadataError('SEXTANT_KUBE_ALREADY_STARTED', 'start() called twice; call it once per cache');
    this.starting = true;
    try {
      await this.startSource();
    } catch (err) {
      this.starting = false;
      throw err;
    }
  }

  private async startSource(): Promise<void> {
    const src = this.opts.source;
    for (const k of this.enabledKinds()) this.pendingSync.add(k);
    if (src.kind === 'file') {
      await this.loadFile(src.path);
      this.state = 'running';
      this.markSynced([...this.pendingSync]);
      if (src.watch === true) {
        this.fileWatch = watchFile(src.path, () => {
          this.loadFile(src.path).catch((err: unknown) => this.reportError(err));
        });
      }
      return;
    }
    // Throws SEXTANT_KUBE_NOT_IN_CLUSTER / SEXTANT_KUBE_KUBECONFIG naming the file and key.
    const transport = createKubeTransport(src, this.opts.inCluster ?? {});
    const handlers = this.apiHandlers();
    const api = await createApiSource(
      transport,
      handlers,
      {
        onSynced: (r) => this.markSynced([r]),
        onError: (e) => this.reportError(e),
        onRelist: () => {
          this.relists++;
        },
      },
      { initialMs: this.opts.backoff?.initialMs ?? 1000, maxMs: this.opts.backoff?.maxMs ?? 30_000 },
      this.engine,
    );
    if (this.state !== 'new') {
      // shutdown() ran while the engine was loading.
      await api.stop();
      return;
    }
    this.api = api;
    this.state = 'running';
    api.start();
  }

  private apiHandlers(): Array<KindHandlers<ListedObject>> {
    const s = this.store;
    const list: Array<KindHandlers<ListedObject>> = [];
    const push = <R>(h: KindHandlers<R>): void => {
      list.push(h as unknown as KindHandlers<ListedObject>);
    };
    push<PodRecord>({
      resource: 'pods',
      path: '/api/v1/pods',
      metadataOnly: false,
      trim: this.trimPodRaw,
      add: (p) => s.upsertPod(p),
      update: (p) => s.upsertPod(p),
      delete: (p) => s.deletePod(p),
    });
    if (this.kinds.namespaces) {
      push<MetaRecord>({
        resource: 'namespaces',
        path: '/api/v1/namespaces',
        metadataOnly: true,
        trim: this.trimNs,
        add: (r) => s.setNamespace(r),
        update: (r) => s.setNamespace(r),
        delete: (r) => s.deleteNamespace(r.name),
      });
    }
    if (this.kinds.nodes) {
      push<MetaRecord>({
        resource: 'nodes',
        path: '/api/v1/nodes',
        metadataOnly: true,
        trim: this.trimNode,
        add: (r) => s.setNode(r),
        update: (r) => s.setNode(r),
        delete: (r) => s.deleteNode(r.name),
      });
    }
    if (this.kinds.owners) {
      push<OwnedRecord>({
        resource: 'replicasets',
        path: '/apis/apps/v1/replicasets',
        metadataOnly: true,
        trim: this.trimOwnedRaw,
        add: (r) => s.setReplicaSet(r),
        update: (r) => s.setReplicaSet(r),
        delete: (r) => s.deleteReplicaSet(r.namespace, r.name),
      });
      push<OwnedRecord>({
        resource: 'jobs',
        path: '/apis/batch/v1/jobs',
        metadataOnly: true,
        trim: this.trimOwnedRaw,
        add: (r) => s.setJob(r),
        update: (r) => s.setJob(r),
        delete: (r) => s.deleteJob(r.namespace, r.name),
      });
    }
    return list;
  }

  private async loadFile(path: string): Promise<void> {
    const { byKind } = await readObjectFile(path);
    if (this.state === 'stopped') return;
    const s = this.store;
    const pods: PodRecord[] = [];
    for (const raw of byKind.get('Pod') ?? []) {
      const p = this.trimPodRaw(raw);
      if (p !== undefined) pods.push(p);
    }
    const replace = <R>(kind: string, enabled: boolean, trim: (raw: unknown) => R | undefined, current: Map<string, R>, set: (r: R) => void, keyOf: (r: R) => string): void => {
      const fresh = new Map<string, R>();
      if (enabled) {
        for (const raw of byKind.get(kind) ?? []) {
          const r = trim(raw);
          if (r !== undefined) fresh.set(keyOf(r), r);
        }
      }
      for (const k of [...current.keys()]) if (!fresh.has(k)) current.delete(k);
      for (const r of fresh.values()) set(r);
    };
    const nsKey = (r: OwnedRecord): string => `${r.namespace}/${r.name}`;
    replace('Namespace', this.kinds.namespaces, this.trimNs, s.namespaces, (r) => s.setNamespace(r), (r) => r.name);
    replace('Node', this.kinds.nodes, this.trimNode, s.nodes, (r) => s.setNode(r), (r) => r.name);
    replace('ReplicaSet', this.kinds.owners, this.trimOwnedRaw, s.replicaSets, (r) => s.setReplicaSet(r), nsKey);
    replace('Job', this.kinds.owners, this.trimOwnedRaw, s.jobs, (r) => s.setJob(r), nsKey);
    s.generation++;
    s.replacePods(pods);
  }

  private markSynced(kinds: string[]): void {
    for (const k of kinds) this.pendingSync.delete(k);
    if (this.synced) {
      for (const w of [...this.syncWaiters]) w(true);
    }
  }

  private reportError(err: unknown): void {
    this.errors++;
    const e = err instanceof KubeMetadataError ? err : new KubeMetadataError('SEXTANT_KUBE_WATCH_FAILED', err instanceof Error ? err.message : String(err), { cause: err });
    this.opts.onError?.(e);
  }

  waitForSync(timeoutMs?: number): Promise<boolean> {
    if (this.synced) return Promise.resolve(true);
    if (this.state === 'stopped') return Promise.resolve(false);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = (ok: boolean): void => {
        if (timer !== undefined) clearTimeout(timer);
        this.syncWaiters.delete(done);
        resolve(ok);
      };
      if (timeoutMs !== undefined) timer = setTimeout(() => done(false), timeoutMs);
      this.syncWaiters.add(done);
    });
  }

  getPod(key: PodKey): PodInfo | undefined {
    return keyOk(key) ? this.store.get(key) : undefined;
  }

  async waitForPod(key: PodKey, timeoutMs?: number): Promise<PodInfo | undefined> {
    if (!keyOk(key)) {
      this.miss('no_key', key);
      return undefined;
    }
    const hit = this.store.get(key);
    if (hit !== undefined) return hit;
    const p = await this.store.waitFor(key, timeoutMs ?? this.waitMs);
    if (p !== undefined) {
      this.foundAfterWait++;
      return p;
    }
    this.miss(this.synced ? 'not_found_after_wait' : 'not_synced', key);
    return undefined;
  }

  private miss(reason: MissReason, key: PodKey): void {
    this.misses[reason]++;
    this.opts.onMiss?.(reason, key);
  }

  getNamespace(name: string): ObjectMetaInfo | undefined {
    return this.store.namespaces.get(name);
  }

  getNode(name: string): ObjectMetaInfo | undefined {
    return this.store.nodes.get(name);
  }

  attributesFor(pod: PodInfo, containerName?: string): Array<[string, string]> {
    // Memoised per pod record (a new record arrives with every update) and per owner/namespace/node
    // generation, so the per-batch cost is a map lookup and a copy.
    let m = this.memo.get(pod);
    if (m === undefined || m.gen !== this.store.generation) {
      m = { gen: this.store.generation, byContainer: new Map() };
      this.memo.set(pod, m);
    }
    const ck = containerName ?? '';
    let attrs = m.byContainer.get(ck);
    if (attrs === undefined) {
      attrs = computeAttributes(this.store, { clusterName: this.opts.clusterName, rules: this.rules, useWellKnownLabels: this.opts.useWellKnownLabels === true }, pod, containerName);
      m.byContainer.set(ck, attrs);
    }
    // A fresh array the caller may extend; the pairs themselves are shared and must not be changed.
    return attrs.slice();
  }

  isExcluded(pod: PodInfo): boolean {
    if (pod.annotations?.[this.excludeKey] === this.excludeValue) return true;
    return this.store.namespaces.get(pod.namespace)?.annotations?.[this.excludeKey] === this.excludeValue;
  }

  stats(): MetadataCacheStats {
    const s = this.store;
    return {
      synced: this.synced,
      pods: s.livePodCount,
      deletedPods: s.deletedPodCount,
      namespaces: s.namespaces.size,
      nodes: s.nodes.size,
      replicaSets: s.replicaSets.size,
      jobs: s.jobs.size,
      misses: { ...this.misses },
      foundAfterWait: this.foundAfterWait,
      relists: this.relists,
      errors: this.errors,
      evictedPods: this.evicted,
    };
  }

  async shutdown(): Promise<void> {
    if (this.state === 'stopped') return;
    this.state = 'stopped';
    this.fileWatch?.close();
    this.fileWatch = undefined;
    this.store.close();
    for (const w of [...this.syncWaiters]) w(false);
    if (this.api !== undefined) await this.api.stop();
    this.api = undefined;
  }
}

export function createMetadataCache(options: MetadataCacheOptions): MetadataCache {
  return new Cache(options);
}
