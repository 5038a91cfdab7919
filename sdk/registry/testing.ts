// Test helpers for registry elements: a fake clock, a Find collector and polling assertions.

import { type Clock, withClock } from '../core/clock.js';
import { background, type Context, withCancel } from '../core/context.js';

interface FakeTimer {
  due: number;
  seq: number;
  fn: () => void;
}

/** A clock that only moves when told to; timers fire in due order during `advance`. */
export class FakeClock implements Clock {
  private timers = new Set<FakeTimer>();
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

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.current + ms;
    for (;;) {
      const due = [...this.timers]
        .filter((t) => t.due <= end)
        .sort((a, b) => a.due - b.due || a.seq - b.seq)[0];
      if (!due) break;
      this.timers.delete(due);
      this.current = due.due;
      due.fn();
    }
    this.current = end;
  }

  get pending(): number {
    return this.timers.size;
  }
}

export function fakeContext(clock: Clock): Context {
  return withClock(background(), clock);
}

export { eventually, never, tick } from '../testing/eventually.js';

/** Starts a Find in the background, collecting what it delivers; `stop()` aborts and awaits it. */
export function collect<R>(
  parent: Context,
  find: (ctx: Context, sink: (r: R) => void) => Promise<void>,
): { items: R[]; done: Promise<void>; stop(): Promise<void> } {
  const { ctx, cancel } = withCancel(parent);
  const items: R[] = [];
  const done = find(ctx, (r) => items.push(r));
  done.catch(() => {});
  return {
    items,
    done,
    stop: async () => {
      cancel();
      await done;
    },
  };
}
