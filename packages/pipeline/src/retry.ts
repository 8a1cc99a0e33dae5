// The one retry policy: exponential backoff with full jitter (AWS architecture blog, "Exponential
// Backoff And Jitter"), never shorter than a server's Retry-After / RetryInfo.

export interface RetryPolicyOptions {
  /** First backoff ceiling. Default 1000. */
  initialMs?: number;
  /** Largest backoff ceiling. Default 30000. */
  maxMs?: number;
  /** Growth per attempt. Default 2. */
  multiplier?: number;
  /** Fraction of the ceiling that is random: 1 = full jitter (delay in [0, ceiling]), 0 = none. Default 1. */
  jitter?: number;
  /** Give up after this long since the first failure; undefined = retry forever (the queue holds). */
  maxElapsedMs?: number | undefined;
  /** Cap on a server's Retry-After hint, so a bogus value cannot stall the pipeline for days. Default 300000. */
  maxRetryAfterMs?: number;
  /** Random source in [0, 1); for tests. */
  random?: () => number;
}

export interface RetryPolicy {
  /** Delay before attempt `attempt + 1`, after `attempt` (1-based) failures. */
  delayMs(attempt: number, retryAfterMs?: number): number;
  /** True when retrying should stop for an item that first failed at `firstFailureAt`. */
  expired(firstFailureAt: number, now?: number): boolean;
  readonly options: Readonly<Required<Omit<RetryPolicyOptions, 'maxElapsedMs' | 'random'>>> & { maxElapsedMs: number | undefined };
}

export function createRetryPolicy(options: RetryPolicyOptions = {}): RetryPolicy {
  const o = {
    initialMs: options.initialMs ?? 1000,
    maxMs: options.maxMs ?? 30_000,
    multiplier: options.multiplier ?? 2,
    jitter: options.jitter ?? 1,
    maxElapsedMs: options.maxElapsedMs,
    maxRetryAfterMs: options.maxRetryAfterMs ?? 300_000,
  };
  if (!(o.initialMs >= 0) || !(o.maxMs >= o.initialMs) || !(o.multiplier >= 1) || !(o.jitter >= 0 && o.jitter <= 1)) {
    throw new RangeError(`retry policy needs 0 <= initialMs <= maxMs, multiplier >= 1, 0 <= jitter <= 1; got ${JSON.stringify(o)}`);
  }
  const random = options.random ?? Math.random;
  return {
    options: o,
    delayMs(attempt, retryAfterMs) {
      const ceiling = Math.min(o.maxMs, o.initialMs * o.multiplier ** Math.max(0, attempt - 1));
      const d = ceiling * (1 - o.jitter) + random() * ceiling * o.jitter;
      const floor = retryAfterMs === undefined ? 0 : Math.min(retryAfterMs, o.maxRetryAfterMs);
      return Math.round(Math.max(d, floor));
    },
    expired(firstFailureAt, now = Date.now()) {
      return o.maxElapsedMs !== undefined && now - firstFailureAt >= o.maxElapsedMs;
    },
  };
}
