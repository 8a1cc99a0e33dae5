// The informer loop (LIST, then WATCH from the list's resourceVersion; relist on 410; reconnect
// after a clean close), written to the contract of @kubernetes/client-node 2.0.1's ListWatch
// (dist/cache.js) so that either can run an informer (source-api.ts): same callbacks, same object
// map keyed by namespace/name, same update suppression for an unchanged resourceVersion, same
// deletes for objects missing from a relist, same reconnect delay (0, then 1 s doubling to 30 s,
// reset by any event; none after a client-side TimeoutError). Ours exists because importing
// client-node's costs +12.5 MiB of heap (bench/README.md "Heap with 10,000 pods").

/** What the informer needs of an object: client-node's KubernetesObject.metadata subset. */
export interface ListedObject {
  readonly metadata?: { readonly name?: string; readonly namespace?: string; readonly resourceVersion?: string } | undefined;
}

export interface ListResult<R> {
  readonly metadata?: { readonly resourceVersion?: string };
  readonly items: readonly R[];
}

export type WatchFn = (
  path: string,
  params: Record<string, string>,
  callback: (phase: string, obj: unknown) => void,
  done: (err: unknown) => void,
) => Promise<AbortController>;

export interface ListWatchLike<R> {
  on(verb: 'add' | 'update' | 'delete', cb: (obj: R) => void): void;
  on(verb: 'error', cb: (err: unknown) => void): void;
  start(): Promise<void>;
  stop(): Promise<void>;
}

const BASE_RECONNECT_DELAY_MS = 1000;
const MAX_RECONNECT_DELAY_MS = 30_000;

function keyOf(o: ListedObject): string {
  return `${o.metadata?.namespace ?? ''}/${o.metadata?.name ?? ''}`;
}

function statusCode(err: unknown): unknown {
  if (typeof err !== 'object' || err === null) return undefined;
  const e = err as { statusCode?: unknown; code?: unknown };
  return e.statusCode ?? e.code;
}

class ListWatchLoop<R extends ListedObject> implements ListWatchLike<R> {
  private objects = new Map<string, R>();
  private resourceVersion = '';
  private stopped = false;
  private hasConnected = false;
  private reconnectDelayMs = 0;
  private request: AbortController | undefined;
  private readonly adds: Array<(o: R) => void> = [];
  private readonly updates: Array<(o: R) => void> = [];
  private readonly deletes: Array<(o: R) => void> = [];
  private readonly errors: Array<(e: unknown) => void> = [];
  private readonly path: string;
  private readonly watch: WatchFn;
  private readonly list: () => Promise<ListResult<R>>;
  private readonly delay: (ms: number) => Promise<void>;

  constructor(path: string, watch: WatchFn, list: () => Promise<ListResult<R>>, delay: (ms: number) => Promise<void>) {
    this.path = path;
    this.watch = watch;
    this.list = list;
    this.delay = delay;
  }

  on(verb: 'add' | 'update' | 'delete' | 'error', cb: ((obj: R) => void) | ((err: unknown) => void)): void {
    if (verb === 'add') this.adds.push(cb);
    else if (verb === 'update') this.updates.push(cb);
    else if (verb === 'delete') this.deletes.push(cb);
    else this.errors.push(cb as (e: unknown) => void);
  }

  async start(): Promise<void> {
    this.stopped = false;
    this.reconnectDelayMs = 0;
    this.hasConnected = false;
    await this.done(null);
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.abort();
    return Promise.resolve();
  }

  private abort(): void {
    this.request?.abort();
    this.request = undefined;
  }

  private async done(err: unknown): Promise<void> {
    this.abort();
    if (err !== null && err !== undefined) {
      if (statusCode(err) === 410) {
        this.resourceVersion = '';
      } else if ((err as { name?: unknown }).name === 'TimeoutError') {
        // A client-side timeout already waited; reconnect at once from the last resourceVersion.
        this.reconnectDelayMs = 0;
      } else {
        for (const cb of this.errors) cb(err);
        return;
      }
    }
    if (this.stopped) return;
    if (this.resourceVersion === '') {
      let listed: ListResult<R>;
      try {
        listed = await this.list();
      } catch (e) {
        for (const cb of this.errors) cb(e);
        return;
      }
      this.replace(listed.items);
      this.resourceVersion = listed.metadata?.resourceVersion ?? '';
    }
    if (this.reconnectDelayMs > 0 && this.hasConnected) await this.delay(this.reconnectDelayMs);
    if (this.hasConnected) {
      this.reconnectDelayMs = Math.min(this.reconnectDelayMs > 0 ? this.reconnectDelayMs * 2 : BASE_RECONNECT_DELAY_MS, MAX_RECONNECT_DELAY_MS);
    }
    this.hasConnected = true;
    this.request = await this.watch(this.path, { resourceVersion: this.resourceVersion }, (phase, obj) => this.event(phase, obj), (e) => {
      this.done(e).catch((x: unknown) => {
        for (const cb of this.errors) cb(x);
      });
    });
  }

  /** A relist: deletes for what is gone (first), then adds and updates. */
  private replace(items: readonly R[]): void {
    const fresh = new Set<string>();
    for (const o of items) fresh.add(keyOf(o));
    for (const [k, old] of this.objects) {
      if (fresh.has(k)) continue;
      this.objects.delete(k);
      for (const cb of this.deletes) cb(old);
    }
    for (const o of items) this.upsert(o);
  }

  private upsert(o: R): void {
    const k = keyOf(o);
    const found = this.objects.get(k);
    if (found === undefined) {
      this.objects.set(k, o);
      for (const cb of this.adds) cb(o);
      return;
    }
    const rv = found.metadata?.resourceVersion;
    if (rv !== undefined && rv !== null && rv === o.metadata?.resourceVersion) return;
    this.objects.set(k, o);
    for (const cb of this.updates) cb(o);
  }

  private event(phase: string, obj: unknown): void {
    const o = obj as R & { code?: unknown };
    switch (phase) {
      case 'ERROR':
        // The server ends the stream after it; a 410 makes the next round relist.
        if (o.code === 410) this.resourceVersion = '';
        return;
      case 'ADDED':
      case 'MODIFIED':
        this.upsert(o);
        break;
      case 'DELETED': {
        const k = keyOf(o);
        if (this.objects.delete(k)) for (const cb of this.deletes) cb(o);
        break;
      }
      default:
        break;
    }
    this.reconnectDelayMs = 0;
    this.resourceVersion = o.metadata?.resourceVersion ?? '';
  }
}

export function createListWatch<R extends ListedObject>(path: string, watch: WatchFn, list: () => Promise<ListResult<R>>, delay: (ms: number) => Promise<void>): ListWatchLike<R> {
  return new ListWatchLoop(path, watch, list, delay);
}
