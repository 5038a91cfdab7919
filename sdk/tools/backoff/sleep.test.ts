import assert from 'node:assert/strict';
import { withCancel } from '../../core/context.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { tick } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { every, sleep } from './index.js';

describe('sleep and every', () => {
  verifyNoLeaks();

  describe('sleep', () => {
    it('resolves after the delay on the context clock', async () => {
      const clock = new FakeClock();
      let done = false;
      const p = sleep(fakeContext(clock), 1_000).then(() => {
        done = true;
      });
      await clock.advanceAsync(999);
      assert.equal(done, false);
      await clock.advanceAsync(1);
      await p;
      assert.equal(done, true);
    });

    it('rejects with the reason and releases its timer when the context is cancelled', async () => {
      const clock = new FakeClock();
      const { ctx, cancel } = withCancel(fakeContext(clock));
      const p = sleep(ctx, 1_000);
      assert.equal(clock.pending, 1);
      cancel(new Error('stop'));
      await assert.rejects(p, /stop/);
      assert.equal(clock.pending, 0);
    });

    it('rejects at once on a cancelled context', async () => {
      const clock = new FakeClock();
      const { ctx, cancel } = withCancel(fakeContext(clock));
      cancel(new Error('gone'));
      await assert.rejects(sleep(ctx, 10), /gone/);
      assert.equal(clock.pending, 0);
    });
  });

  describe('every', () => {
    it('runs every interval, never overlapping a slow run, until disposed', async () => {
      const clock = new FakeClock();
      const starts: number[] = [];
      let release: () => void = () => {};
      const stop = every(fakeContext(clock), 100, async () => {
        starts.push(clock.now());
        if (starts.length === 2) await new Promise<void>((r) => (release = r));
      });
      const t0 = clock.now();
      await clock.advanceAsync(200);
      assert.deepEqual(starts, [t0 + 100, t0 + 200]);
      await clock.advanceAsync(500);
      assert.equal(starts.length, 2, 'waits for the slow run');
      release();
      await tick();
      await clock.advanceAsync(100);
      assert.deepEqual(starts, [t0 + 100, t0 + 200, t0 + 800]);
      stop();
      await clock.advanceAsync(1_000);
      assert.equal(starts.length, 3);
      assert.equal(clock.pending, 0);
    });

    it('keeps going after an error, and stops when the context is cancelled', async () => {
      const clock = new FakeClock();
      const { ctx, cancel } = withCancel(fakeContext(clock));
      const errors: unknown[] = [];
      let runs = 0;
      every(
        ctx,
        10,
        () => {
          runs++;
          throw new Error('boom');
        },
        (e) => errors.push(e),
      );
      await clock.advanceAsync(30);
      assert.equal(runs, 3);
      assert.equal(errors.length, 3);
      cancel();
      await clock.advanceAsync(100);
      assert.equal(runs, 3);
      assert.equal(clock.pending, 0);
    });
  });
});
