// A fake clock for unit tests: time moves only when the test says so, and every timer created
// through the Context's clock (timeouts, refreshes, heal retries, liveness intervals) fires then.
import { type Clock, withClock } from '../core/clock.js';
import { background, type Context } from '../core/context.js';
import { tick } from './eventually.js';

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/** Rounds of setImmediate between timers, so promise chains a timer started can arm the next one. */
const SETTLE_ROUNDS = 3;

/** A clock that only moves when told to; timers fire in due order (then creation order). */
export class FakeClock implements Clock {
  private readonly timers = new Set<FakeTimer>();
  private seq = 0;
  constructor(private current = Date.UTC(2024, 0, 1)) {}

  now(): number {
    return this.current;
  }

  setTimeout(fn: () => void, ms: number): { clear(): void } {
    const t: FakeTimer = { due: this.current + Math.max(0, ms), seq: this.seq++, fn };
    this.timers.add(t);
    return { clear: () => this.timers.delete(t) };
  }

  private nextDue(end: number): FakeTimer | undefined {
    let best: FakeTimer | undefined;
    for (const t of this.timers) {
      if (t.due > end) continue;
      if (!best || t.due < best.due || (t.due === best.due && t.seq < best.seq)) best = t;
    }
    return best;
  }

  /**
   * Moves time forward by `ms`, firing every timer that falls due on the way, synchronously. Use it
   * for code whose timers do not wait on promises; otherwise use `advanceAsync`.
   */
  advance(ms: number): void {
    const end = this.current + ms;
    for (let t = this.nextDue(end); t; t = this.nextDue(end)) {
      this.timers.delete(t);
      this.current = Math.max(this.current, t.due);
      t.fn();
    }
    this.current = end;
  }

  /**
   * Moves time forward by `ms` without firing anything, as when the process was stopped (SIGSTOP)
   * or starved: the timers that fell due meanwhile fire late, at the next advance.
   */
  stall(ms: number): void {
    this.current += ms;
  }

  /**
   * Moves time forward by `ms` like `advance`, but lets pending promise callbacks run before and
   * after each timer, so async code (a heal attempt, a failed refresh) can schedule its next timer
   * within the same advance.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.current + ms;
    await settle();
    for (let t = this.nextDue(end); t; t = this.nextDue(end)) {
      this.timers.delete(t);
      this.current = Math.max(this.current, t.due);
      t.fn();
      await settle();
    }
    this.current = end;
    await settle();
  }

  /** Timers armed and not yet fired or cleared. */
  get pending(): number {
    return this.timers.size;
  }

  /** Milliseconds from now to the earliest pending timer, if any. */
  get nextTimerInMs(): number | undefined {
    const t = this.nextDue(Number.POSITIVE_INFINITY);
    return t && t.due - this.current;
  }
}

async function settle(): Promise<void> {
  for (let i = 0; i < SETTLE_ROUNDS; i++) await tick();
}

/** A background context whose clock is `clock`. */
export function fakeContext(clock: Clock): Context {
  return withClock(background(), clock);
}
