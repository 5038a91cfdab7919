// Our goleak: compares the process's active handles (timers, sockets, servers, child processes)
// with a snapshot taken before the test, after giving closes a moment to finish.
import assert from 'node:assert/strict';
import { eventually, tick } from './eventually.js';

/** Handle kinds that outlive a test only if it forgot to close something. */
const WATCHED = new Set([
  'Timeout',
  'PipeWrap',
  'PipeServerWrap',
  'TCPWrap',
  'TCPServerWrap',
  'ProcessWrap',
  'UDPWrap',
]);

function counts(): Map<string, number> {
  const out = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (WATCHED.has(kind)) out.set(kind, (out.get(kind) ?? 0) + 1);
  }
  return out;
}

export interface LeakCheck {
  /** Fails if more handles of a watched kind are active than at `snapshot()` (polls up to `timeoutMs`). */
  verify(timeoutMs?: number): Promise<void>;
}

/**
 * Takes the snapshot now. Call it from inside a hook after `await tick()` (see `verifyNoLeaks`), so
 * mocha's own timer for the running hook is part of the snapshot as it is part of the later check.
 */
export function snapshot(): LeakCheck {
  const before = counts();
  return {
    async verify(timeoutMs = 1_000) {
      await eventually(() => {
        const now = counts();
        const grown = [...now]
          .filter(([k, n]) => n > (before.get(k) ?? 0))
          .map(([k, n]) => `${k}: ${before.get(k) ?? 0} -> ${n}`);
        assert.deepEqual(grown, [], `handles left behind: ${grown.join(', ')}`);
      }, timeoutMs);
    },
  };
}

/** Installs beforeEach/afterEach hooks in the current describe that fail a test leaving handles behind. */
export function verifyNoLeaks(timeoutMs?: number): void {
  let check: LeakCheck | undefined;
  beforeEach(async () => {
    await tick();
    check = snapshot();
  });
  afterEach(async () => {
    await check?.verify(timeoutMs);
  });
}
