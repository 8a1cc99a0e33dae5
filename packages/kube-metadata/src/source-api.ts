// API-server source: one informer per kind (LIST, WATCH, relist on 410, reconnect), run by our
// ListWatch loop (listwatch.ts, the default) or by client-node 2.0.1's ListWatch (engine
// 'client-node', imported only then: it costs +12.5 MiB of heap), with the pieces both lack added here.
//
// What the ListWatch contract (client-node's dist/cache.js, mirrored by listwatch.ts) does and what
// this file adds:
// - It runs LIST via a caller-supplied function, then WATCH from the list's resourceVersion, resets to a
//   relist on 410 Gone (HTTP status or an ERROR event), and reconnects after clean closes with a 1 s→30 s
//   doubling delay. We keep all of that.
// - Its LIST is ours: resourceVersion=0 first (served from the API server's watch cache), after a 410
//   the last seen resourceVersion (NotOlderThan, still from the cache), falling back to a consistent read.
// - Its Watch sends no allowWatchBookmarks and no timeoutSeconds, and caches the full objects. Our
//   transport below asks for bookmarks, lets the server end each watch after 5–10 min (as client-go
//   does), trims every object before ListWatch stores it, and asks for metadata only
//   (PartialObjectMetadata) where only metadata is read (namespaces, nodes, ReplicaSets, Jobs).
// - On any error other than 410 and client timeouts it calls the error callbacks and stops for good.
//   We restart it with exponential backoff and full jitter.
// - Its reconnect delay does not check stop(); our delay resolves at once on shutdown and the transport
//   refuses new watches after it, so no request outlives shutdown().
import { KubeMetadataError } from './errors.ts';
import { createListWatch } from './listwatch.ts';
import type { ListResult, ListWatchLike, ListedObject, WatchFn } from './listwatch.ts';
import type { KubeHttpResponse, KubeTransport } from './transport.ts';

/** Which ListWatch runs the informers: ours (default) or client-node's (imported lazily). */
export type InformerEngine = 'sextant' | 'client-node';

export interface KindHandlers<R> {
  /** Resource name for messages and RBAC hints, e.g. `pods`. */
  readonly resource: string;
  /** Collection path, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly metadataOnly: boolean;
  trim(raw: unknown): R | undefined;
  add(r: R): void;
  update(r: R): void;
  delete(r: R): void;
}

export interface ApiSourceEvents {
  onSynced(resource: string): void;
  onError(err: KubeMetadataError): void;
  onRelist(resource: string): void;
}

export interface BackoffOptions {
  readonly initialMs: number;
  readonly maxMs: number;
}

const ACCEPT_JSON = 'application/json';
const ACCEPT_META_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';
const ACCEPT_META = 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1,application/json';
// The API server sends a bookmark about once a minute on an idle watch; three missed ones mean the
// connection is dead even if TCP has not noticed.
const WATCH_IDLE_MS = 180_000;

interface HttpError extends Error {
  statusCode: number;
}

function httpError(status: number, body: string): HttpError {
  let reason = body.slice(0, 300);
  try {
    const parsed = JSON.parse(body) as { message?: unknown };
    if (typeof parsed.message === 'string') reason = parsed.message;
  } catch {
    // not a Status object; keep the raw text
  }
  const e = new Error(`HTTP ${status}: ${reason}`) as HttpError;
  e.statusCode = status;
  return e;
}

function statusOf(err: unknown): number | undefined {
  if (typeof err === 'object' && err !== null && 'statusCode' in err && typeof err.statusCode === 'number') return err.statusCode;
  return undefined;
}

/** The transport plus the set of requests in flight, aborted on shutdown. */
class Requests {
  readonly t: KubeTransport;
  readonly inflight = new Set<AbortController>();
  closed = false;

  constructor(t: KubeTransport) {
    this.t = t;
  }

  get(path: string, query: Record<string, string>, accept: string, signal: AbortSignal): Promise<KubeHttpResponse> {
    return this.t.request({ path, query, accept, signal });
  }

  abortAll(): void {
    this.closed = true;
    for (const c of this.inflight) c.abort();
    this.inflight.clear();
    this.t.close();
  }
}

type ListWatchFactory = <R extends ListedObject>(path: string, watch: WatchFn, list: () => Promise<ListResult<R>>, delay: (ms: number) => Promise<void>) => ListWatchLike<R>;

/** One informer: a ListWatch plus our list, watch transport and restart policy. */
class Informer<R extends ListedObject> {
  private readonly t: Requests;
  private readonly h: KindHandlers<R>;
  private readonly ev: ApiSourceEvents;
  private readonly backoff: BackoffOptions;
  private readonly lw: ListWatchLike<R>;
  private lastRv = '';
  private listedOnce = false;
  synced = false;
  private failures = 0;
  private restartTimer: NodeJS.Timeout | undefined;
  private readonly delays = new Set<() => void>();

  constructor(t: Requests, h: KindHandlers<R>, ev: ApiSourceEvents, backoff: BackoffOptions, makeListWatch: ListWatchFactory) {
    this.t = t;
    this.h = h;
    this.ev = ev;
    this.backoff = backoff;
    this.lw = makeListWatch<R>(h.path, this.watch.bind(this), () => this.list(), (ms) => this.delay(ms));
    this.lw.on('add', (o) => h.add(o));
    this.lw.on('update', (o) => h.update(o));
    this.lw.on('delete', (o) => h.delete(o));
    this.lw.on('error', (err: unknown) => this.onError(err));
  }

  start(): void {
    this.lw.start().catch((err: unknown) => this.onError(err));
  }

  async stop(): Promise<void> {
    if (this.restartTimer !== undefined) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    for (const wake of this.delays) wake();
    await this.lw.stop();
  }

  /** Reconnect delay for ListWatch, with jitter; ends at once on shutdown. */
  private delay(ms: number): Promise<void> {
    if (this.t.closed) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.delays.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms * (0.5 + Math.random() / 2));
      timer.unref();
      this.delays.add(done);
    });
  }

  private onError(err: unknown): void {
    // One restart at a time: a second error report must not start a second ListWatch loop.
    if (this.t.closed || this.restartTimer !== undefined) return;
    const status = statusOf(err);
    const wrapped =
      err instanceof KubeMetadataError
        ? err
        : status === 401 || status === 403
          ? new KubeMetadataError(
              'SEXTANT_KUBE_FORBIDDEN',
              `${this.h.path}: ${(err as Error).message}; the ServiceAccount needs get/list/watch on ${this.h.resource} (or turn the feature that needs them off)`,
              { cause: err },
            )
          : new KubeMetadataError('SEXTANT_KUBE_WATCH_FAILED', `${this.h.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    this.ev.onError(wrapped);
    // Exponential backoff with full jitter; see LESSONS.md "API server load and memory".
    const cap = Math.min(this.backoff.maxMs, this.backoff.initialMs * 2 ** Math.min(this.failures, 20));
    this.failures++;
    const wait = Math.random() * cap;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.t.closed) this.start();
    }, wait);
    this.restartTimer.unref();
  }

  private async list(): Promise<ListResult<R>> {
    const ctl = new AbortController();
    this.t.inflight.add(ctl);
    const accept = this.h.metadataOnly ? ACCEPT_META_LIST : ACCEPT_JSON;
    try {
      const relist = this.listedOnce;
      if (relist) this.ev.onRelist(this.h.resource);
      // First LIST from the watch cache (resourceVersion=0). After a 410 the cache must be at least as
      // new as what we saw; if even that is refused, fall back to a consistent read.
      const query: Record<string, string> = this.lastRv === '' ? { resourceVersion: '0' } : { resourceVersion: this.lastRv, resourceVersionMatch: 'NotOlderThan' };
      const get = async (q: Record<string, string>): Promise<KubeHttpResponse> => {
        try {
          return await this.t.get(this.h.path, q, accept, ctl.signal);
        } catch (err) {
          throw new KubeMetadataError('SEXTANT_KUBE_LIST_FAILED', `${this.h.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
      };
      let res = await get(query);
      if (res.status === 410) {
        res.discard();
        res = await get({});
      }
      try {
        if (res.status !== 200) {
          const body = await res.text().catch(() => '');
          const e = httpError(res.status, body);
          if (res.status === 401 || res.status === 403) throw e;
          throw new KubeMetadataError('SEXTANT_KUBE_LIST_FAILED', `${this.h.path}: ${e.message}`, { cause: e });
        }
        let body: { metadata?: { resourceVersion?: string }; items?: unknown[] };
        try {
          body = JSON.parse(await res.text()) as { metadata?: { resourceVersion?: string }; items?: unknown[] };
        } catch (err) {
          throw new KubeMetadataError('SEXTANT_KUBE_LIST_FAILED', `${this.h.path}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        }
        const items: R[] = [];
        for (const raw of body.items ?? []) {
          const r = this.h.trim(raw);
          if (r !== undefined) items.push(r);
        }
        const rv = body.metadata?.resourceVersion ?? '';
        this.lastRv = rv;
        this.listedOnce = true;
        this.failures = 0;
        return { metadata: { resourceVersion: rv }, items };
      } finally {
        res.discard();
      }
    } finally {
      this.t.inflight.delete(ctl);
    }
  }

  /** Watch transport for ListWatch: same contract as client-node's Watch.watch. */
  private async watch(
    path: string,
    params: Record<string, string>,
    callback: (phase: string, obj: unknown) => void,
    done: (err: unknown) => void,
  ): Promise<AbortController> {
    const ctl = new AbortController();
    // ListWatch calls watch() right after it applied a LIST: that is the moment the kind is in sync.
    if (this.listedOnce && !this.synced) {
      this.synced = true;
      this.ev.onSynced(this.h.resource);
    }
    if (this.t.closed) {
      done(null);
      return ctl;
    }
    this.t.inflight.add(ctl);
    let finished = false;
    let timedOut = false;
    let idle: NodeJS.Timeout | undefined;
    let res: KubeHttpResponse | undefined;
    const finish = (err: unknown): void => {
      if (finished) return;
      finished = true;
      if (idle !== undefined) clearTimeout(idle);
      this.t.inflight.delete(ctl);
      ctl.abort();
      res?.discard();
      if (this.t.closed) {
        done(null);
      } else if (timedOut) {
        // ListWatch reconnects at once from the last resourceVersion on a TimeoutError.
        done(new DOMException('watch idle for too long', 'TimeoutError'));
      } else {
        done(err);
      }
    };
    const touch = (): void => {
      if (idle !== undefined) clearTimeout(idle);
      idle = setTimeout(() => {
        timedOut = true;
        ctl.abort();
      }, WATCH_IDLE_MS);
      idle.unref();
    };
    const query: Record<string, string> = {
      watch: 'true',
      allowWatchBookmarks: 'true',
      // Like client-go's reflector: the server ends the watch after 5–10 min, spreading reconnects.
      timeoutSeconds: String(300 + Math.floor(Math.random() * 300)),
    };
    for (const [k, v] of Object.entries(params)) if (v !== undefined) query[k] = String(v);
    try {
      touch();
      res = await this.t.get(path, query, this.h.metadataOnly ? ACCEPT_META : ACCEPT_JSON, ctl.signal);
      if (res.status !== 200) {
        const body = await res.text().catch(() => '');
        finish(httpError(res.status, body));
        return ctl;
      }
      this.failures = 0;
      this.read(res.body, callback, touch).then(
        () => finish(null),
        (err: unknown) => finish(err),
      );
    } catch (err) {
      finish(err);
    }
    return ctl;
  }

  private async read(body: AsyncIterable<Uint8Array>, callback: (phase: string, obj: unknown) => void, touch: () => void): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    for await (const chunk of body) {
      touch();
      buf += decoder.decode(chunk, { stream: true });
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.length > 0) this.event(line, callback);
        nl = buf.indexOf('\n');
      }
    }
    if (buf.trim().length > 0) this.event(buf, callback);
  }

  private event(line: string, callback: (phase: string, obj: unknown) => void): void {
    let ev: { type?: unknown; object?: unknown };
    try {
      ev = JSON.parse(line) as { type?: unknown; object?: unknown };
    } catch {
      return;
    }
    const type = typeof ev.type === 'string' ? ev.type : '';
    const obj = ev.object as { metadata?: { resourceVersion?: unknown }; code?: unknown } | undefined;
    if (type === 'ERROR') {
      // A 410 here makes ListWatch relist when the server closes the stream.
      callback(type, obj ?? {});
      return;
    }
    const rv = typeof obj?.metadata?.resourceVersion === 'string' ? obj.metadata.resourceVersion : undefined;
    if (rv !== undefined) this.lastRv = rv;
    if (type === 'BOOKMARK') {
      callback(type, { metadata: { resourceVersion: rv ?? '' } });
      return;
    }
    if (type !== 'ADDED' && type !== 'MODIFIED' && type !== 'DELETED') return;
    const r = this.h.trim(obj);
    if (r !== undefined) callback(type, r);
  }
}

export interface ApiSource {
  start(): void;
  stop(): Promise<void>;
}

/**
 * Informers for `kinds` over `transport`. The 'client-node' engine imports client-node's ListWatch
 * here (+12.5 MiB of heap); the default engine does not import client-node at all.
 */
export async function createApiSource(
  transport: KubeTransport,
  kinds: ReadonlyArray<KindHandlers<ListedObject>>,
  ev: ApiSourceEvents,
  backoff: BackoffOptions,
  engine: InformerEngine = 'sextant',
): Promise<ApiSource> {
  let make: ListWatchFactory = createListWatch;
  if (engine === 'client-node') {
    const { ListWatch } = await import('./clientnode.ts');
    make = <R extends ListedObject>(path: string, watch: WatchFn, list: () => Promise<ListResult<R>>, delay: (ms: number) => Promise<void>): ListWatchLike<R> => {
      // client-node's ListWatch only calls watch() of its Watch and only reads metadata of the objects
      // (trimmed records expose a `metadata` getter); the casts bridge its generated types.
      type LW = ConstructorParameters<typeof ListWatch>;
      const lw = new ListWatch(path, { watch } as unknown as LW[1], list as unknown as LW[2], false, undefined, undefined, { delayFn: delay });
      return lw as unknown as ListWatchLike<R>;
    };
  }
  const t = new Requests(transport);
  const informers = kinds.map((k) => new Informer(t, k, ev, backoff, make));
  return {
    start(): void {
      for (const i of informers) i.start();
    },
    async stop(): Promise<void> {
      t.abortAll();
      await Promise.all(informers.map((i) => i.stop()));
    },
  };
}
