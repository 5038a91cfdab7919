// All time comes from the clock in the context, so tests can swap it (sdk tools/clock).
// Type-only import: context.ts reads the clock (withTimeout), so this file must not import its code.
import type { Context } from './context.js';

/**
 * A source of time. `now()` is epoch milliseconds; `setTimeout` calls `fn` once after `ms` unless
 * the returned handle is cleared first. Real timers are referenced (they keep the process alive).
 */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { clear(): void };
}

/** Node's longest timer: a longer delay fires at once (with a warning), so longer ones re-arm. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    // A segment expiring more than ~24.8 days ahead is legal input; without the steps its expiry
    // timer fired at once and closed a connection that had just been made.
    let t: NodeJS.Timeout;
    const arm = (left: number) => {
      t =
        left > MAX_TIMER_MS ? setTimeout(() => arm(left - MAX_TIMER_MS), MAX_TIMER_MS) : setTimeout(fn, left);
    };
    arm(ms);
    return { clear: () => clearTimeout(t) };
  },
};

const CLOCK_KEY = Symbol('clock');

export function withClock(ctx: Context, clock: Clock): Context {
  return { ...ctx, values: new Map(ctx.values).set(CLOCK_KEY, clock) };
}

export function clock(ctx: Context): Clock {
  return (ctx.values.get(CLOCK_KEY) as Clock | undefined) ?? realClock;
}
