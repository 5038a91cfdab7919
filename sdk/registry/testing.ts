// Test helpers for registry elements: a Find collector and polling assertions (the fake clock is
// in sdk/testing/clock.ts).

import { type Context, withCancel } from '../core/context.js';

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
