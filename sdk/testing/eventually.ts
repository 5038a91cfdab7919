// Polling assertions (sdk timeout tests' require.Eventually / require.Never).
import assert from 'node:assert/strict';

/** Lets queued promise callbacks and pending I/O callbacks run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Polls `check` until it passes, or rethrows its last error after `timeoutMs`. */
export async function eventually(check: () => void | Promise<void>, timeoutMs = 2_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      await check();
      return;
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

/** Fails if `happened()` becomes true within `forMs`. */
export async function never(happened: () => boolean, forMs = 50): Promise<void> {
  const end = Date.now() + forMs;
  while (Date.now() < end) {
    assert.equal(happened(), false, 'the condition should never become true');
    await new Promise((r) => setTimeout(r, 2));
  }
}
