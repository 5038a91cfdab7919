import assert from 'node:assert/strict';
import { withCancel } from '../../core/context.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { tick } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { constantBackoff, retry } from './index.js';

describe('retry', () => {
  verifyNoLeaks();

  it('retries with the backoff until the attempt succeeds', async () => {
    const clock = new FakeClock();
    let attempts = 0;
    const retried: number[] = [];
    const p = retry(
      fakeContext(clock),
      async () => {
        if (++attempts < 3) throw new Error(`attempt ${attempts}`);
        return 'ok';
      },
      { backoff: constantBackoff(50), onRetry: (_e, ms) => retried.push(ms) },
    );
    await clock.advanceAsync(49);
    assert.equal(attempts, 1);
    await clock.advanceAsync(51);
    assert.equal(await p, 'ok');
    assert.equal(attempts, 3);
    assert.deepEqual(retried, [50, 50]);
  });

  it('gives up with the last error when the next attempt would start too late', async () => {
    const clock = new FakeClock();
    let attempts = 0;
    const p = retry(
      fakeContext(clock),
      async () => {
        throw new Error(`attempt ${++attempts}`);
      },
      { backoff: constantBackoff(100), giveUpAfterMs: 250 },
    );
    const failed = assert.rejects(p, /attempt 3/);
    await clock.advanceAsync(1_000);
    await failed;
    assert.equal(attempts, 3);
  });

  it('stops with the cancellation reason', async () => {
    const clock = new FakeClock();
    const { ctx, cancel } = withCancel(fakeContext(clock));
    const p = retry(ctx, async () => {
      throw new Error('down');
    });
    await tick();
    cancel(new Error('shutting down'));
    await assert.rejects(p, /shutting down/);
    assert.equal(clock.pending, 0);
  });
});
