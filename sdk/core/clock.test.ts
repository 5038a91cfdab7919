import assert from 'node:assert/strict';
import { FakeClock } from '../testing/clock.js';
import { clock, MAX_TIMER_MS, realClock, withClock } from './clock.js';
import { background } from './context.js';

describe('clock', () => {
  it('is the real clock when the context has none', () => {
    assert.equal(clock(background()), realClock);
    const now = clock(background()).now();
    assert.ok(Math.abs(now - Date.now()) < 1_000);
  });

  it('is the clock put into the context', () => {
    const fake = new FakeClock(1_000);
    const ctx = withClock(background(), fake);
    assert.equal(clock(ctx).now(), 1_000);
    fake.advance(500);
    assert.equal(clock(ctx).now(), 1_500);
  });

  it('real timers fire and can be cleared', async () => {
    let fired = 0;
    const cleared = realClock.setTimeout(() => fired++, 1);
    cleared.clear();
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 5));
    assert.equal(fired, 0);
  });

  it('does not fire a timer longer than Node allows (~24.8 days) at once (a far expiry closed new connections)', async () => {
    let fired = 0;
    const far = realClock.setTimeout(() => fired++, 30 * 24 * 3600 * 1000);
    const justOver = realClock.setTimeout(() => fired++, MAX_TIMER_MS + 1);
    await new Promise<void>((resolve) => realClock.setTimeout(resolve, 50));
    far.clear();
    justOver.clear();
    assert.equal(fired, 0);
  });
});
