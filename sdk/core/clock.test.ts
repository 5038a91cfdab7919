import assert from 'node:assert/strict';
import { FakeClock } from '../testing/clock.js';
import { clock, realClock, withClock } from './clock.js';
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
});
