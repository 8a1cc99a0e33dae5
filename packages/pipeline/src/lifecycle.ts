// Component lifecycle: start downstream first, stop upstream first (so nothing is accepted that
// cannot be passed on, and everything accepted is flushed), SIGTERM/SIGINT → graceful shutdown with a deadline.
import { SextantError } from './errors.ts';
import type { Logger } from './logger.ts';

export interface Component {
  /** For logs. */
  readonly name?: string;
  /** Returns quickly (listen, start timers). */
  start(): Promise<void>;
  /** Flushes, stops timers, closes sockets and files. */
  shutdown(): Promise<void>;
}

export interface RunComponentsOptions {
  logger?: Logger;
  /** Default 25000 (Kubernetes waits 30 s before SIGKILL by default). */
  shutdownTimeoutMs?: number;
  /** Signals that trigger shutdown. Default SIGTERM, SIGINT. Pass [] to wire none. */
  signals?: readonly NodeJS.Signals[];
  /** Exit the process after a signal-triggered shutdown (code 0, or 1 on timeout/error). Default true. */
  exitOnSignal?: boolean;
}

export interface RunningComponents {
  /** Stops everything (upstream first); resolves when done or when the deadline passed. */
  shutdown(reason?: string): Promise<void>;
  /** Resolves after shutdown finished. */
  readonly stopped: Promise<void>;
}

const nameOf = (c: Component, i: number): string => c.name ?? `component[${i}]`;

/** Wraps plain functions as a Component. */
export function component(name: string, shutdown: () => Promise<void>, start: () => Promise<void> = () => Promise.resolve()): Component {
  return { name, start, shutdown };
}

/**
 * `components` are listed in data-flow order, upstream first: e.g. [receiver, exportLoop, queue].
 * They start in reverse order (downstream first) and shut down in list order (upstream first).
 * If a start fails, the ones already started are shut down and the error is thrown.
 */
export async function runComponents(components: readonly Component[], options: RunComponentsOptions = {}): Promise<RunningComponents> {
  const log = options.logger;
  const timeoutMs = options.shutdownTimeoutMs ?? 25_000;
  const started: Component[] = [];
  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;

  const stopAll = async (reason: string): Promise<void> => {
    log?.info({ reason }, 'shutting down');
    // upstream first: `started` holds them downstream-first, so walk it backwards
    const order = [...started].reverse();
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((r) => {
      timer = setTimeout(() => r('timeout'), timeoutMs);
    });
    const work = (async () => {
      let failed = false;
      for (const [i, c] of order.entries()) {
        try {
          await c.shutdown();
          log?.info({ component: nameOf(c, i) }, 'stopped');
        } catch (err) {
          failed = true;
          log?.error({ err, component: nameOf(c, i) }, 'shutdown failed');
        }
      }
      return failed ? 'failed' : 'ok';
    })();
    const outcome = await Promise.race([work, deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      const e = new SextantError('SEXTANT_PIPELINE_SHUTDOWN_TIMEOUT', `shutdown did not finish within ${timeoutMs} ms (shutdownTimeoutMs)`);
      log?.error({ code: e.code }, e.message);
      process.exitCode = 1;
    } else if (outcome === 'failed') {
      process.exitCode = 1;
    }
    resolveStopped();
  };

  const shutdown = (reason = 'requested'): Promise<void> => {
    stopping ??= stopAll(reason);
    return stopping;
  };

  for (let i = components.length - 1; i >= 0; i--) {
    const c = components[i];
    if (c === undefined) continue;
    try {
      await c.start();
      started.push(c);
      log?.info({ component: nameOf(c, i) }, 'started');
    } catch (err) {
      log?.error({ err, component: nameOf(c, i) }, 'start failed; stopping the started components');
      await shutdown('start failed');
      throw err;
    }
  }

  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const handler = (sig: NodeJS.Signals): void => {
    void shutdown(sig).then(() => {
      if (options.exitOnSignal !== false) process.exit();
    });
  };
  for (const s of signals) process.once(s, handler);
  void stopped.then(() => {
    for (const s of signals) process.removeListener(s, handler);
  });
  return { shutdown, stopped };
}
