// Coalesces requests that arrive while an enqueue is in flight into one queue item: the
// concatenation of Export*ServiceRequest messages is itself a valid request (their only field,
// resource_logs / resource_metrics = 1, is repeated), so one fsync'd item — and later one
// export request — carries many client requests. Each request still gets its answer only once
// the item holding it is durable. This is what brings the per-request cost of the queue and the
// exporter (HTTP round trip, compression call, frame) down under concurrent load; see
// bench/README.md "enrichment".
import type { EnqueueResult, Queue } from '@sextant/pipeline';

interface Waiter {
  resolve: (r: EnqueueResult) => void;
  reject: (err: unknown) => void;
}

interface Group {
  payloads: Uint8Array[];
  bytes: number;
  waiters: Waiter[];
}

interface Coalescer {
  /** Resolves with the queue's answer for the item that holds this payload. */
  enqueue(signal: string, payload: Uint8Array): Promise<EnqueueResult>;
}

function createCoalescer(queue: Queue, limits: { maxBytes: number; maxItems: number }): Coalescer {
  const state = new Map<string, { inFlight: number; pending: Group | undefined }>();

  function flush(signal: string, group: Group): void {
    const s = state.get(signal);
    if (s === undefined) return;
    s.inFlight++;
    const payload = group.payloads.length === 1 ? (group.payloads[0] as Uint8Array) : Buffer.concat(group.payloads, group.bytes);
    queue.enqueue({ signal, payload }).then(
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
        flush(signal, next);
      }
    });
  }

  return {
    enqueue(signal, payload) {
      let s = state.get(signal);
      if (s === undefined) {
        s = { inFlight: 0, pending: undefined };
        state.set(signal, s);
      }
      return new Promise<EnqueueResult>((resolve, reject) => {
        const st = s;
        if (st.inFlight === 0 && st.pending === undefined) {
          flush(signal, { payloads: [payload], bytes: payload.length, waiters: [{ resolve, reject }] });
          return;
        }
        // A group that would grow past the limits goes now; the queue group-commits it with the rest.
        if (st.pending !== undefined && (st.pending.bytes + payload.length > limits.maxBytes || st.pending.payloads.length >= limits.maxItems)) {
          const full = st.pending;
          st.pending = undefined;
          flush(signal, full);
        }
        st.pending ??= { payloads: [], bytes: 0, waiters: [] };
        st.pending.payloads.push(payload);
        st.pending.bytes += payload.length;
        st.pending.waiters.push({ resolve, reject });
      });
    },
  };
}

export { createCoalescer };
export type { Coalescer };
