// All time comes from the clock in the context, so tests can swap it (sdk tools/clock).
import { type Context, value, withValue } from './context.js';

export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): { clear(): void };
}

export const realClock: Clock = {
  now: () => Date.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    return { clear: () => clearTimeout(t) };
  },
};

const CLOCK_KEY = Symbol('clock');

export function withClock(ctx: Context, clock: Clock): Context {
  return withValue(ctx, CLOCK_KEY, clock);
}

export function clock(ctx: Context): Clock {
  return value<Clock>(ctx, CLOCK_KEY) ?? realClock;
}
