// Merges queue items into fewer, larger export requests. OTLP Export*ServiceRequest messages are
// `repeated Resource* = 1`, so the byte concatenation of requests of one signal is itself a valid
// request: a batch costs one copy, no decoding. Items handed to export() while `maxInFlight` sends
// are busy wait and leave together in the next send (up to `maxBytes`), the way coalesce.ts groups
// ingest requests into one queue item. Every item of a send gets that send's result, so the export
// loop still acks, retries or dead-letters per item (at-least-once is unchanged).
// Why: per export, the HTTP client and the compressor have a fixed cost, and a larger body compresses
// better and faster (32 merged 13 KB requests: gzip ratio 34:1 against 13:1 one by one). In the
// steady-state benchmark ingest coalescing already fills the items (0.05 exports per client request
// with or without this); it matters when the backend is slow or back from an outage and items pile
// up: packages/enrichment/test/export-batch.test.ts drains 12 waiting items in far fewer requests.
import type { ExportItem, ExportResult, Exporter } from '@sextant/pipeline';
import type { FramedEncoding } from './enrich.ts';

interface Waiting {
  readonly item: ExportItem;
  readonly resolve: (r: ExportResult) => void;
}

interface BatchingOptions {
  /** Sends in flight to the backend. */
  maxInFlight: number;
  /** Largest merged payload; an item larger than this is sent alone. */
  maxBytes: number;
  /**
   * How long an item may wait for others to join it when a send slot is free but the batch is
   * still under maxBytes (0: send at once). Under a steady load below capacity every item would
   * otherwise leave alone (one backend request per client request).
   */
  lingerMs?: number;
}

/** The parts of a queue item enqueued in parts (QueueItem.parts), else its payload. */
function partsOf(item: ExportItem): readonly Uint8Array[] {
  return item.parts ?? [item.payload];
}

/** The codec of items stored compressed (coalesce.ts ItemMeta.encoding); protobuf items have none. */
function encodingOf(item: ExportItem): FramedEncoding | undefined {
  if (item.contentEncoding !== undefined) return item.contentEncoding;
  const m = item.meta;
  const e = m !== null && typeof m === 'object' && !Array.isArray(m) ? m['encoding'] : undefined;
  return e === 'zstd' || e === 'gzip' ? e : undefined;
}

/** Payload bytes of an item, without joining its parts. */
function sizeOf(item: ExportItem): number {
  let n = 0;
  for (const p of partsOf(item)) n += p.byteLength;
  return n;
}

// Copies from the items' parts, so an item enqueued in parts is copied once here instead of being
// joined into its payload first.
function mergePayloads(items: readonly Waiting[]): Uint8Array {
  if (items.length === 1) return items[0]?.item.payload ?? new Uint8Array(0);
  let n = 0;
  for (const w of items) n += sizeOf(w.item);
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  for (const w of items) {
    for (const p of partsOf(w.item)) {
      out.set(p, at);
      at += p.byteLength;
    }
  }
  return out;
}

/**
 * Compressed items merged as the list of their parts, joined only if an exporter reads `payload`:
 * the otlp_http exporter sends such a batch as it is, from the parts (one writev), which saves a
 * copy of every exported byte and its allocation.
 */
function encodedBatch(signal: string, batch: readonly Waiting[], encoding: FramedEncoding): ExportItem {
  const parts: Uint8Array[] = [];
  for (const w of batch) for (const p of partsOf(w.item)) parts.push(p);
  let joined: Uint8Array | undefined;
  return {
    signal,
    meta: { encoding },
    contentEncoding: encoding,
    parts,
    get payload(): Uint8Array {
      return (joined ??= mergePayloads(batch));
    },
  };
}

function createBatchingExporter(inner: Exporter, options: BatchingOptions): Exporter & { flush(): void } {
  const maxInFlight = Math.max(1, options.maxInFlight);
  // signal (+ '\0zstd' / '\0gzip' for compressed items) -> items waiting for a send slot. Compressed
  // items merge only with items of their codec: the concatenation of zstd frames (gzip members) is
  // again a zstd stream (gzip file) of the concatenated requests.
  const pending = new Map<string, Waiting[]>();
  let inFlight = 0;
  let scheduled = false;
  const lingerMs = Math.max(0, options.lingerMs ?? 0);
  let closing = false; // set by flush(): from then on nothing waits out a linger
  const lingering = new Map<string, NodeJS.Timeout>(); // key -> timer of its first waiting item
  const lingered = new Set<string>(); // keys whose linger ran out (or whose batch is full)

  const send = (batch: Waiting[], key: string): void => {
    inFlight++;
    const first = batch[0]?.item;
    const encoding = first === undefined ? undefined : encodingOf(first);
    const signal = first?.signal ?? key;
    const item: ExportItem =
      batch.length === 1 && first !== undefined ? first : encoding !== undefined ? encodedBatch(signal, batch, encoding) : { signal, payload: mergePayloads(batch) };
    inner.export(item).then(
      (r) => {
        for (const w of batch) w.resolve(r);
      },
      (err: unknown) => {
        const r: ExportResult = { kind: 'retryable', error: err instanceof Error ? err : new Error(String(err)) };
        for (const w of batch) w.resolve(r);
      },
    ).finally(() => {
      inFlight--;
      for (const k of pending.keys()) lingered.add(k);
      pump();
    });
  };

  // Takes up to maxBytes from the front of one signal's waiting list.
  const take = (list: Waiting[]): Waiting[] => {
    let bytes = 0;
    let n = 0;
    while (n < list.length) {
      const w = list[n];
      const size = w === undefined ? 0 : sizeOf(w.item);
      if (n > 0 && bytes + size > options.maxBytes) break;
      bytes += size;
      n++;
    }
    return list.splice(0, n);
  };

  const bytesOf = (list: readonly Waiting[]): number => {
    let n = 0;
    for (const w of list) n += sizeOf(w.item);
    return n;
  };

  // A key may go when its batch is full, its linger ran out, or a send just finished (what waited
  // for the slot has waited long enough).
  const ready = (key: string, list: readonly Waiting[]): boolean => {
    if (closing || lingerMs === 0 || lingered.has(key) || bytesOf(list) >= options.maxBytes) return true;
    if (!lingering.has(key)) {
      lingering.set(key, setTimeout(() => {
        lingering.delete(key);
        lingered.add(key);
        pump();
      }, lingerMs));
    }
    return false;
  };

  function pump(): void {
    for (const [key, list] of pending) {
      if (!ready(key, list)) continue;
      while (inFlight < maxInFlight && list.length > 0) send(take(list), key);
      if (list.length === 0) {
        pending.delete(key);
        lingered.delete(key);
        const timer = lingering.get(key);
        if (timer !== undefined) clearTimeout(timer);
        lingering.delete(key);
      }
      if (inFlight >= maxInFlight) return;
    }
  }

  return {
    name: inner.name,
    export(item) {
      return new Promise<ExportResult>((resolve) => {
        const encoding = encodingOf(item);
        const key = encoding === undefined ? item.signal : `${item.signal}\0${encoding}`;
        let list = pending.get(key);
        if (list === undefined) {
          list = [];
          pending.set(key, list);
        }
        list.push({ item, resolve });
        // Items the export loop hands over in one turn go out together.
        if (!scheduled) {
          scheduled = true;
          queueMicrotask(() => {
            scheduled = false;
            pump();
          });
        }
      });
    },
    flush,
    shutdown: () => {
      flush();
      return inner.shutdown();
    },
  };

  /** Sends what is waiting now and stops lingering (the service is stopping). */
  function flush(): void {
    closing = true;
    for (const timer of lingering.values()) clearTimeout(timer);
    lingering.clear();
    pump();
  }
}

export { createBatchingExporter, encodingOf };
export type { BatchingOptions };
