// A retry loop on the context's clock: attempt, wait the backoff's next delay, attempt again.
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import { type BackoffFactory, cappedDoubling } from './backoff.js';
import { type Delay, sleep } from './sleep.js';

export interface RetryOptions {
  /** Delays between attempts (default: capped doubling with the toolkit's defaults). */
  backoff?: BackoffFactory;
  /** Stop retrying once the next attempt would start later than this many ms from now. */
  giveUpAfterMs?: number;
  /** Called after each failed attempt that will be retried, with the delay before the next one. */
  onRetry?: (error: unknown, delayMs: number) => void;
  /** How to wait (default `sleep` on the context's clock). */
  delay?: Delay;
}

/**
 * Calls `attempt` until it succeeds. Rethrows the last error when the next attempt would pass
 * `giveUpAfterMs`, and the cancellation reason when `ctx` is cancelled.
 */
export async function retry<T>(
  ctx: Context,
  attempt: (ctx: Context) => Promise<T>,
  opts: RetryOptions = {},
): Promise<T> {
  const c = clock(ctx);
  const giveUpAt = opts.giveUpAfterMs === undefined ? Number.POSITIVE_INFINITY : c.now() + opts.giveUpAfterMs;
  const backoff = (opts.backoff ?? cappedDoubling())();
  const delay = opts.delay ?? sleep;
  for (;;) {
    try {
      return await attempt(ctx);
    } catch (e) {
      if (ctx.signal.aborted) throw e;
      const ms = backoff.next();
      if (c.now() + ms > giveUpAt) throw e;
      opts.onRetry?.(e, ms);
      await delay(ctx, ms);
    }
  }
}
