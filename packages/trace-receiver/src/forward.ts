// From accepted request to backend. Two modes:
// - direct (default): the client's request is answered with the backend's outcome, so the
//   client's own retry covers an outage. Requests that arrive while every export slot is busy
//   are coalesced into one export: concatenated ExportTraceServiceRequest messages are one
//   valid message (repeated fields merge). The enricher's segments of every request in the
//   batch are written once, into a reused export buffer (no splice copy, no merge copy, and no
//   new external memory per request that would bring V8's next full GC closer). The bytes
//   waiting or in flight are bounded; past the bound the client gets RESOURCE_EXHAUSTED/429.
// - queue: the request is answered once it is fsync'd in the durable queue; pipeline's export
//   loop drains it with backoff, holds on retryable failures and dead-letters permanent ones.
import type { ExportLoop, ExportResult, Queue } from '@sextant/pipeline';
import type { TraceReceiverErrorCode } from './errors.ts';

/** Sends one ExportTraceServiceRequest (protobuf bytes) to the backend; never throws. */
interface SpanSink {
  export(payload: Uint8Array): Promise<ExportResult>;
}

type SubmitResult =
  | { kind: 'ok' }
  | { kind: 'rejected'; code: TraceReceiverErrorCode; message: string; retryAfterMs?: number };

interface ForwarderStats {
  /** Bytes accepted and not yet exported (direct mode: waiting + in flight). */
  readonly pendingBytes: number;
  readonly exportsInFlight: number;
  readonly exported: { readonly requests: number; readonly batches: number; readonly bytes: number };
  readonly failures: { readonly retryable: number; readonly permanent: number };
  readonly deadLettered: number;
}

interface Forwarder {
  /** One request as segments written one after the other (`size` bytes in all). */
  submit(segments: readonly Uint8Array[], size: number): Promise<SubmitResult>;
  start(): void;
  /** Stops taking work; waits (up to deadlineMs) for exports in flight. */
  shutdown(deadlineMs: number): Promise<void>;
  stats(): ForwarderStats;
}

interface DirectForwarderOptions {
  readonly sink: SpanSink;
  /** Bound on bytes waiting for export plus bytes in flight. */
  readonly maxPendingBytes: number;
  /** Parallel exports. */
  readonly concurrency: number;
  /** Bytes one coalesced export carries at most (a single larger request still goes alone). */
  readonly maxBatchBytes: number;
  /** Retry hint sent with RESOURCE_EXHAUSTED / 429 and with backend-unavailable answers. */
  readonly retryAfterMs: number;
}

interface Waiting {
  segments: readonly Uint8Array[];
  size: number;
  resolve: (r: SubmitResult) => void;
  settled?: boolean;
}

/**
 * Export buffers, reused once an export succeeded (a failed or timed-out export may still be
 * referenced by a write in progress, so its buffer is left to the GC). Sizes are powers of two
 * from 64 KiB; a few of each are kept.
 */
interface BufferPool {
  take(size: number): Buffer;
  give(buf: Buffer): void;
}

function createBufferPool(maxPooledBytes = 8 * 1024 * 1024, perClass = 4): BufferPool {
  const free = new Map<number, Buffer[]>();
  const classOf = (size: number): number => {
    let c = 64 * 1024;
    while (c < size) c *= 2;
    return c;
  };
  return {
    take(size) {
      const c = classOf(size);
      if (c > maxPooledBytes) return Buffer.allocUnsafe(size);
      return free.get(c)?.pop() ?? Buffer.allocUnsafe(c);
    },
    give(buf) {
      const c = buf.length;
      if (c > maxPooledBytes || c !== classOf(c)) return;
      let list = free.get(c);
      if (list === undefined) free.set(c, (list = []));
      if (list.length < perClass) list.push(buf);
    },
  };
}

function writeAll(batch: readonly Waiting[], size: number, into: Buffer): Buffer {
  let pos = 0;
  for (const w of batch) {
    for (const s of w.segments) {
      into.set(s, pos);
      pos += s.length;
    }
  }
  if (pos !== size) throw new Error(`internal: batch holds ${pos} bytes, expected ${size}`);
  return into.subarray(0, size);
}

function mapExportResult(r: ExportResult, retryAfterMs: number): SubmitResult {
  if (r.kind === 'ok') return { kind: 'ok' };
  if (r.kind === 'retryable') {
    return {
      kind: 'rejected',
      code: 'SEXTANT_TRACES_BACKEND_UNAVAILABLE',
      message: `the backend did not accept the spans: ${r.error.message}`,
      retryAfterMs: r.retryAfterMs ?? retryAfterMs,
    };
  }
  return { kind: 'rejected', code: 'SEXTANT_TRACES_BACKEND_REJECTED', message: `the backend refused the spans: ${r.error.message}` };
}

function createDirectForwarder(opts: DirectForwarderOptions): Forwarder {
  const waiting: Waiting[] = [];
  let waitingBytes = 0;
  let inFlightBytes = 0;
  let active = 0;
  let closed = false;
  const exported = { requests: 0, batches: 0, bytes: 0 };
  const failures = { retryable: 0, permanent: 0 };
  const idle: Array<() => void> = [];
  const inFlight = new Set<Waiting[]>();
  const pool = createBufferPool(Math.max(opts.maxBatchBytes * 2, 1024 * 1024));
  const settle = (w: Waiting, r: SubmitResult): void => {
    if (w.settled === true) return;
    w.settled = true;
    w.resolve(r);
  };

  function pump(): void {
    while (active < opts.concurrency && waiting.length > 0) {
      const batch: Waiting[] = [];
      let size = 0;
      while (waiting.length > 0) {
        const next = waiting[0] as Waiting;
        if (batch.length > 0 && size + next.size > opts.maxBatchBytes) break;
        waiting.shift();
        batch.push(next);
        size += next.size;
      }
      waitingBytes -= size;
      inFlightBytes += size;
      active++;
      inFlight.add(batch);
      void run(batch, size);
    }
    if (active === 0 && waiting.length === 0) for (const f of idle.splice(0)) f();
  }

  async function run(batch: Waiting[], size: number): Promise<void> {
    let result: ExportResult;
    const single = batch.length === 1 && batch[0]!.segments.length === 1 ? batch[0]!.segments[0]! : undefined;
    const buffer = single === undefined ? pool.take(size) : undefined;
    try {
      result = await opts.sink.export(single ?? writeAll(batch, size, buffer!));
    } catch (err) {
      result = { kind: 'retryable', error: err instanceof Error ? err : new Error(String(err)) };
    }
    if (buffer !== undefined && result.kind === 'ok') pool.give(buffer);
    if (result.kind === 'ok') {
      exported.requests += batch.length;
      exported.batches++;
      exported.bytes += size;
    } else if (result.kind === 'retryable') failures.retryable++;
    else failures.permanent++;
    const answer = mapExportResult(result, opts.retryAfterMs);
    inFlightBytes -= size;
    active--;
    for (const w of batch) settle(w, answer);
    inFlight.delete(batch);
    pump();
  }

  return {
    submit(segments, size) {
      if (closed) return Promise.resolve({ kind: 'rejected', code: 'SEXTANT_TRACES_SHUTTING_DOWN', message: 'the receiver is shutting down', retryAfterMs: opts.retryAfterMs });
      if (waitingBytes + inFlightBytes + size > opts.maxPendingBytes && (waitingBytes + inFlightBytes > 0)) {
        return Promise.resolve({
          kind: 'rejected',
          code: 'SEXTANT_TRACES_OVER_CAPACITY',
          message: `${waitingBytes + inFlightBytes} bytes are waiting for export and this request adds ${size}; the limit (export.maxPendingBytes) is ${opts.maxPendingBytes}`,
          retryAfterMs: opts.retryAfterMs,
        });
      }
      return new Promise<SubmitResult>((resolve) => {
        waiting.push({ segments, size, resolve });
        waitingBytes += size;
        pump();
      });
    },
    start() {},
    async shutdown(deadlineMs) {
      closed = true;
      if (active === 0 && waiting.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise<void>((resolve) => idle.push(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, deadlineMs);
        }),
      ]);
      clearTimeout(timer);
      // Whatever is still waiting or in flight gets a retryable answer rather than a reset
      // connection; an export still in flight may yet succeed (at least once, never lost).
      const bye: SubmitResult = { kind: 'rejected', code: 'SEXTANT_TRACES_SHUTTING_DOWN', message: 'the receiver is shutting down', retryAfterMs: opts.retryAfterMs };
      for (const w of waiting.splice(0)) settle(w, bye);
      for (const batch of inFlight) for (const w of batch) settle(w, bye);
      waitingBytes = 0;
    },
    stats() {
      return {
        pendingBytes: waitingBytes + inFlightBytes,
        exportsInFlight: active,
        exported: { ...exported },
        failures: { ...failures },
        deadLettered: 0,
      };
    },
  };
}

interface QueueForwarderOptions {
  readonly queue: Queue;
  /** pipeline's export loop over that queue (ack on ok, backoff and hold on retryable, dead-letter on failure). */
  readonly loop: ExportLoop;
  /** Retry hint for a failed queue write or a shutdown (export.retryAfterMs). */
  readonly retryAfterMs: number;
}

/** Queue mode: answer once the spans are fsync'd; the shared export loop delivers them. */
function createQueueForwarder(opts: QueueForwarderOptions): Forwarder {
  let closed = false;
  return {
    async submit(segments, size) {
      if (closed) return { kind: 'rejected', code: 'SEXTANT_TRACES_SHUTTING_DOWN', message: 'the receiver is shutting down', retryAfterMs: opts.retryAfterMs };
      try {
        const r = await opts.queue.enqueue({ signal: 'traces', payload: segments.length === 1 ? segments[0]! : Buffer.concat(segments, size) });
        if (r.kind === 'ok') return { kind: 'ok' };
        return { kind: 'rejected', code: 'SEXTANT_TRACES_QUEUE_FULL', message: r.error.message, retryAfterMs: r.retryAfterMs };
      } catch (err) {
        return { kind: 'rejected', code: 'SEXTANT_TRACES_QUEUE_WRITE', message: `the durable queue could not store the spans: ${(err as Error).message}`, retryAfterMs: opts.retryAfterMs };
      }
    },
    start() {
      void opts.loop.start();
    },
    async shutdown(deadlineMs) {
      closed = true;
      // Items in flight are nacked by the loop; they stay in the queue and go out after a restart.
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([opts.loop.shutdown(), new Promise<void>((resolve) => (timer = setTimeout(resolve, deadlineMs)))]);
      clearTimeout(timer);
    },
    stats() {
      const q = opts.queue.stats();
      const l = opts.loop.stats();
      return { pendingBytes: q.bytes, exportsInFlight: l.inFlight, exported: { requests: l.ok, batches: l.ok, bytes: 0 }, failures: { retryable: l.retries, permanent: l.deadLettered + l.dropped }, deadLettered: l.deadLettered };
    },
  };
}

export { createDirectForwarder, createQueueForwarder, mapExportResult };
export type { DirectForwarderOptions, Forwarder, ForwarderStats, QueueForwarderOptions, SpanSink, SubmitResult };
