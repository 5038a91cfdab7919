// Waiting on the context's clock: every delay in the mesh goes through here, so a fake clock in the
// Context (sdk/testing/clock.ts) drives retries, intervals and timeouts alike.
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';

/** A delay as an injectable function; `sleep` is the default everywhere. */
export type Delay = (ctx: Context, ms: number) => Promise<void>;

/**
 * Resolves after `ms` on `clock(ctx)`. Rejects with the signal's reason as soon as `ctx` is
 * cancelled, and releases its timer then, so a cancelled loop leaves nothing behind.
 */
export const sleep: Delay = (ctx, ms) =>
  new Promise<void>((resolve, reject) => {
    if (ctx.signal.aborted) {
      reject(ctx.signal.reason);
      return;
    }
    const onAbort = () => {
      timer.clear();
      reject(ctx.signal.reason);
    };
    const timer = clock(ctx).setTimeout(() => {
      ctx.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    ctx.signal.addEventListener('abort', onAbort, { once: true });
  });

/**
 * Runs `fn` every `ms` on `clock(ctx)` until `ctx` is cancelled or the returned disposer is called.
 * The next run is scheduled when the previous one has finished, so runs never overlap; an error
 * thrown by `fn` goes to `onError` (default: ignored) and does not stop the loop.
 */
export function every(
  ctx: Context,
  ms: number,
  fn: () => void | Promise<void>,
  onError: (e: unknown) => void = () => {},
): () => void {
  const c = clock(ctx);
  let timer: { clear(): void } | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    timer?.clear();
    timer = undefined;
    ctx.signal.removeEventListener('abort', stop);
  };
  const arm = () => {
    if (stopped) return;
    timer = c.setTimeout(async () => {
      timer = undefined;
      try {
        await fn();
      } catch (e) {
        onError(e);
      }
      arm();
    }, ms);
  };
  if (ctx.signal.aborted) return () => {};
  ctx.signal.addEventListener('abort', stop, { once: true });
  arm();
  return stop;
}
