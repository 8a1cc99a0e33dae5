// Coalesces requests that arrive while an enqueue is in flight into one queue item: the
// concatenation of Export*ServiceRequest messages is itself a valid request (their only field,
// resource_logs / resource_metrics = 1, is repeated), so one fsync'd item — and later one
// export request — carries many client requests. Each request still gets its answer only once
// the item holding it is durable. This is what brings the per-request cost of the queue and the
// exporter (HTTP round trip, compression call, frame) down under concurrent load; see
// bench/README.md "enrichment".
import type { EnqueueResult, Queue } from '@sextant/pipeline';
import type { FramedEncoding } from './enrich.ts';

interface Waiter {
  resolve: (r: EnqueueResult) => void;
  reject: (err: unknown) => void;
}

interface Group {
  /** The byte ranges of every request in the group, in order: one queue item, written with one writev. */
  payloads: Uint8Array[];
  bytes: number;
  records: number;
  waiters: Waiter[];
}

/** What a queue item's meta holds: its record count, and its source under export.order: source. */
interface ItemMeta {
  records: number;
  source?: string;
  /** 'zstd' / 'gzip': the payload is zstd frames / gzip members (enrich.ts compressedSpliceParts); absent: protobuf. */
  encoding?: FramedEncoding;
}

interface Coalescer {
  /**
   * Resolves with the queue's answer for the item that holds this payload. `records` is its
   * record count (stored in the item's meta); with a `source`, only payloads of that source
   * share an item, and the item's meta names it.
   */
  enqueue(signal: string, payload: readonly Uint8Array[], bytes: number, records: number, source?: string, encoding?: FramedEncoding): Promise<EnqueueResult>;
}

interface SignalState {
  signal: string;
  source: string | undefined;
  encoding: FramedEncoding | undefined;
  inFlight: number;
  pending: Group | undefined;
}

function keyOf(signal: string, source: string | undefined, encoding: FramedEncoding | undefined): string {
  return `${signal}\0${source === undefined ? '-' : `+${source}`}\0${encoding ?? ''}`;
}

function createCoalescer(queue: Queue, limits: { maxBytes: number; maxItems: number }): Coalescer {
  const state = new Map<string, SignalState>();

  function flush(s: SignalState, group: Group): void {
    s.inFlight++;
    const payload = group.payloads;
    const meta: ItemMeta = s.source === undefined ? { records: group.records } : { records: group.records, source: s.source };
    if (s.encoding !== undefined) meta.encoding = s.encoding;
    queue.enqueue({ signal: s.signal, payload, meta: { ...meta } }).then(
      (r) => {
        for (const w of group.waiters) w.resolve(r);
      },
      (err: unknown) => {
        for (const w of group.waiters) w.reject(err);
      },
    ).finally(() => {
      s.inFlight--;
      const next = s.pending;
      if (next !== undefined && s.inFlight === 0) {
        s.pending = undefined;
        flush(s, next);
      } else if (next === undefined && s.inFlight === 0 && s.source !== undefined) {
        state.delete(keyOf(s.signal, s.source, s.encoding)); // sources come and go (nodes, connections)
      }
    });
  }

  return {
    enqueue(signal, payload, bytes, records, source, encoding) {
      // zstd frames, gzip members and protobuf never share an item: each item is all one of them.
      const key = keyOf(signal, source, encoding);
      let s = state.get(key);
      if (s === undefined) {
        s = { signal, source, encoding, inFlight: 0, pending: undefined };
        state.set(key, s);
      }
      const st = s;
      return new Promise<EnqueueResult>((resolve, reject) => {
        if (st.inFlight === 0 && st.pending === undefined) {
          flush(st, { payloads: [...payload], bytes, records, waiters: [{ resolve, reject }] });
          return;
        }
        // A group that would grow past the limits goes now; the queue group-commits it with the rest.
        if (st.pending !== undefined && (st.pending.bytes + bytes > limits.maxBytes || st.pending.waiters.length >= limits.maxItems)) {
          const full = st.pending;
          st.pending = undefined;
          flush(st, full);
        }
        st.pending ??= { payloads: [], bytes: 0, records: 0, waiters: [] };
        st.pending.payloads.push(...payload);
        st.pending.bytes += bytes;
        st.pending.records += records;
        st.pending.waiters.push({ resolve, reject });
      });
    },
  };
}

export { createCoalescer };
export type { Coalescer, ItemMeta };
