// Drains a durable queue into an exporter: N exports in flight, order kept per source key,
// ack on ok, back off and hold on retryable (never drop), dead-letter on failure.
// See ARCHITECTURE.md "Delivery contract" point 4.
import { setTimeout as sleep } from 'node:timers/promises';
import { SextantError } from './errors.ts';
import type { Exporter, ExportResult } from './exporter.ts';
import type { Logger } from './logger.ts';
import type { Metrics } from './metrics.ts';
import type { Queue, QueueItem } from './queue.ts';
import type { RetryPolicy } from './retry.ts';
import type { Component } from './lifecycle.ts';

export interface ExportLoopOptions {
  queue: Queue;
  exporter: Exporter;
  retry: RetryPolicy;
  /** Exports in flight. Default 4. */
  concurrency?: number;
  /**
   * Items with the same key are exported one at a time in queue order. Default `meta.source`
   * (string) when present; items without a key are not ordered against each other.
   */
  keyOf?: (item: QueueItem) => string | undefined;
  logger?: Logger;
  /** Counters `export_items_total{signal,outcome}`, `export_retries_total{signal}`, `dropped_total{reason}`. */
  metrics?: Metrics;
  name?: string;
  /**
   * On shutdown, keep exporting until the queue is empty, for at most this long, before stopping
   * (what a source put in the queue on its way down still leaves). 0 (default): stop at once;
   * unsent items stay in the queue for the next start.
   */
  drainOnShutdownMs?: number;
}

export interface ExportLoopStats {
  ok: number;
  retries: number;
  deadLettered: number;
  dropped: number;
  inFlight: number;
}

export interface ExportLoop extends Component {
  stats(): ExportLoopStats;
}

const defaultKey = (item: QueueItem): string | undefined => {
  const m = item.meta;
  if (m !== null && typeof m === 'object' && !Array.isArray(m) && typeof m.source === 'string') return m.source;
  return undefined;
};

export function createExportLoop(options: ExportLoopOptions): ExportLoop {
  const { queue, exporter, retry } = options;
  const concurrency = Math.max(1, options.concurrency ?? 4);
  const maxLeased = concurrency * 4;
  const keyOf = options.keyOf ?? defaultKey;
  const log = options.logger;
  const items = options.metrics?.counter<'signal' | 'outcome'>('export_items_total', { help: 'Items handled by the exporter, by outcome (ok, dead_letter, dropped).', labelNames: ['signal', 'outcome'] });
  const retries = options.metrics?.counter<'signal'>('export_retries_total', { help: 'Export attempts that failed retryably and were retried.', labelNames: ['signal'] });
  const dropped = options.metrics?.dropped();
  const duration = options.metrics?.histogram<'signal'>('export_duration_seconds', { help: 'Time per export attempt.', labelNames: ['signal'] });

  const stats: ExportLoopStats = { ok: 0, retries: 0, deadLettered: 0, dropped: 0, inFlight: 0 };
  const busy = new Map<string, QueueItem[]>(); // key -> items waiting behind the one in flight
  let leased = 0;
  let holdUntil = 0;
  let stopping = false;
  let abort = new AbortController();
  let running: Promise<void> | undefined;
  const active = new Set<Promise<void>>();
  let wake: (() => void) | undefined;

  const signalWake = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };

  const attempt = async (item: QueueItem): Promise<ExportResult> => {
    const end = duration?.startTimer({ signal: item.signal });
    try {
      return await exporter.export(item);
    } catch (err) {
      return { kind: 'retryable', error: err as Error };
    } finally {
      end?.();
    }
  };

  const deadLetter = async (item: QueueItem, reason: string): Promise<void> => {
    const r = await queue.deadLetter(item.id, reason);
    if (r.kind === 'stored') {
      stats.deadLettered++;
      items?.inc({ signal: item.signal, outcome: 'dead_letter' });
    } else {
      stats.dropped++;
      items?.inc({ signal: item.signal, outcome: 'dropped' });
      dropped?.inc({ reason: r.reason });
    }
  };

  /** Exports one item to a final outcome; returns false when shut down first (item nacked). */
  const deliver = async (item: QueueItem): Promise<boolean> => {
    let firstFailure: number | undefined;
    for (let n = 1; ; n++) {
      const r = await attempt(item);
      if (r.kind === 'ok') {
        queue.ack(item.id);
        stats.ok++;
        items?.inc({ signal: item.signal, outcome: 'ok' });
        return true;
      }
      if (r.kind === 'failure') {
        log?.error({ id: item.id, signal: item.signal, err: r.error.message }, 'export failed permanently; dead-lettering');
        await deadLetter(item, r.error.message);
        return true;
      }
      firstFailure ??= Date.now();
      if (retry.expired(firstFailure)) {
        const e = new SextantError('SEXTANT_PIPELINE_EXPORT_RETRY_EXPIRED', `gave up after ${Date.now() - firstFailure} ms (retry.maxElapsedMs): ${r.error.message}`);
        log?.error({ id: item.id, signal: item.signal, err: e.message }, 'export retries expired; dead-lettering');
        await deadLetter(item, e.message);
        return true;
      }
      const delay = retry.delayMs(n, r.retryAfterMs);
      stats.retries++;
      retries?.inc({ signal: item.signal });
      log?.warn({ id: item.id, signal: item.signal, attempt: n, delayMs: delay, err: r.error.message }, 'export failed; retrying');
      // Hold the queue: no new item starts before this backoff ends.
      holdUntil = Math.max(holdUntil, Date.now() + delay);
      if (stopping) break;
      try {
        await sleep(delay, undefined, { signal: abort.signal });
      } catch {
        // shutdown
      }
      if (stopping) break;
    }
    queue.nack(item.id);
    return false;
  };

  const runKey = async (first: QueueItem): Promise<void> => {
    const key = keyOf(first);
    let item: QueueItem | undefined = first;
    while (item !== undefined) {
      stats.inFlight++;
      let done = false;
      try {
        done = await deliver(item);
      } catch (err) {
        log?.error({ err, id: item.id }, 'export loop: unexpected error; item returned to the queue');
        try {
          queue.nack(item.id);
        } catch {
          // queue closed
        }
      } finally {
        stats.inFlight--;
        leased--;
      }
      if (!done || stopping) {
        // Hand back everything waiting behind it, in order.
        for (const w of (key === undefined ? [] : busy.get(key) ?? []).reverse()) {
          try {
            queue.nack(w.id);
          } catch {
            // queue closed
          }
          leased--;
        }
        if (key !== undefined) busy.delete(key);
        break;
      }
      item = key === undefined ? undefined : busy.get(key)?.shift();
    }
    if (key !== undefined && busy.get(key)?.length === 0) busy.delete(key);
    signalWake();
  };

  const dispatch = (item: QueueItem): void => {
    const key = keyOf(item);
    if (key !== undefined) {
      const waiting = busy.get(key);
      if (waiting !== undefined) {
        waiting.push(item);
        return;
      }
      busy.set(key, []);
    }
    const p = runKey(item);
    active.add(p);
    void p.finally(() => active.delete(p));
  };

  const loop = async (): Promise<void> => {
    while (!stopping) {
      if (stats.inFlight >= concurrency || leased >= maxLeased) {
        await new Promise<void>((r) => (wake = r));
        continue;
      }
      const wait = holdUntil - Date.now();
      if (wait > 0) {
        try {
          await sleep(wait, undefined, { signal: abort.signal });
        } catch {
          // shutdown
        }
        continue;
      }
      const got = await queue.lease(Math.min(concurrency - stats.inFlight, maxLeased - leased), abort.signal);
      for (const item of got) {
        leased++;
        if (stopping) {
          queue.nack(item.id);
          leased--;
          continue;
        }
        dispatch(item);
      }
    }
  };

  return {
    start() {
      if (running !== undefined) return Promise.resolve();
      stopping = false;
      abort = new AbortController();
      running = loop().catch((err: unknown) => {
        log?.error({ err }, 'export loop stopped on an error');
      });
      return Promise.resolve();
    },
    async shutdown() {
      const drainMs = Math.max(0, options.drainOnShutdownMs ?? 0);
      if (drainMs > 0 && running !== undefined && !stopping) {
        const deadline = Date.now() + drainMs;
        while (Date.now() < deadline && queue.stats().depth > 0) await sleep(Math.min(20, Math.max(1, deadline - Date.now())));
        if (queue.stats().depth > 0) log?.warn({ left: queue.stats().depth, drainMs }, 'export loop: stopping with items still queued; they are sent after the next start');
      }
      stopping = true;
      abort.abort();
      signalWake();
      await running;
      await Promise.all([...active]);
      running = undefined;
      await exporter.shutdown();
    },
    stats: () => ({ ...stats }),
  };
}
