import assert from 'node:assert/strict';
import { clock } from '../core/clock.js';
import { FakeClock, fakeContext } from './clock.js';

describe('FakeClock', () => {
  it('stands still until advanced', () => {
    const c = new FakeClock(1_000);
    assert.equal(c.now(), 1_000);
    c.advance(250);
    assert.equal(c.now(), 1_250);
  });

  it('fires timers in due order, then creation order, with now() at their due time', () => {
    const c = new FakeClock(0);
    const fired: string[] = [];
    c.setTimeout(() => fired.push(`b@${c.now()}`), 20);
    c.setTimeout(() => fired.push(`a@${c.now()}`), 10);
    c.setTimeout(() => fired.push(`c@${c.now()}`), 20);
    c.advance(15);
    assert.deepEqual(fired, ['a@10']);
    c.advance(100);
    assert.deepEqual(fired, ['a@10', 'b@20', 'c@20']);
    assert.equal(c.now(), 115);
  });

  it('fires timers armed by a timer within the same advance', () => {
    const c = new FakeClock(0);
    const fired: number[] = [];
    c.setTimeout(() => c.setTimeout(() => fired.push(c.now()), 5), 5);
    c.advance(10);
    assert.deepEqual(fired, [10]);
  });

  it('never fires a cleared timer', () => {
    const c = new FakeClock(0);
    let fired = false;
    c.setTimeout(() => {
      fired = true;
    }, 1).clear();
    c.advance(10);
    assert.equal(fired, false);
    assert.equal(c.pending, 0);
  });

  it('advanceAsync lets promise chains arm their next timer', async () => {
    const c = new FakeClock(0);
    const fired: number[] = [];
    const loop = async () => {
      for (let i = 0; i < 3; i++) {
        await new Promise<void>((r) => c.setTimeout(r, 10));
        await Promise.resolve();
        fired.push(c.now());
      }
    };
    const done = loop();
    await c.advanceAsync(30);
    await done;
    assert.deepEqual(fired, [10, 20, 30]);
  });

  it('reports the next due timer', () => {
    const c = new FakeClock(0);
    assert.equal(c.nextTimerInMs, undefined);
    c.setTimeout(() => {}, 40);
    c.setTimeout(() => {}, 15);
    assert.equal(c.nextTimerInMs, 15);
  });

  it('is the clock of fakeContext', () => {
    const c = new FakeClock();
    assert.equal(clock(fakeContext(c)), c);
  });
});
