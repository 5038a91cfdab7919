// Records the real timers code under test creates, to prove it cleans them up (or, for a known bug,
// to clear what it forgot so the run does not hang). Patches globalThis.setTimeout until restore().
export interface TimerTracker {
  /** Timers created since install that have neither fired nor been cleared. */
  pending(): number;
  /** Clears every pending timer. */
  clearAll(): void;
  restore(): void;
}

export function trackTimers(): TimerTracker {
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  const live = new Set<NodeJS.Timeout>();
  const patchedSet = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t: NodeJS.Timeout = realSet(
      (...a: unknown[]) => {
        live.delete(t);
        fn(...a);
      },
      ms,
      ...args,
    );
    live.add(t);
    return t;
  }) as typeof setTimeout;
  const patchedClear = ((t?: NodeJS.Timeout | string | number) => {
    if (t !== undefined && typeof t === 'object') live.delete(t);
    realClear(t as NodeJS.Timeout);
  }) as typeof clearTimeout;
  globalThis.setTimeout = patchedSet;
  globalThis.clearTimeout = patchedClear;
  return {
    pending: () => live.size,
    clearAll() {
      for (const t of live) realClear(t);
      live.clear();
    },
    restore() {
      globalThis.setTimeout = realSet;
      globalThis.clearTimeout = realClear;
    },
  };
}
