import assert from 'node:assert/strict';
import { FakeClock } from '../../testing/clock.js';
import { leaseTimer, STALL_THRESHOLD_MS } from './lease.js';

describe('leaseTimer', () => {
  it('fires at the deadline when the process ran all along', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    leaseTimer(clock, 10_000, () => fired.push(clock.now()), { maxGraceMs: 10_000 });
    clock.advance(9_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [10_000]);
  });

  it('gives the time lost to a stall back once, up to maxGraceMs', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    const stalls: [number, number][] = [];
    leaseTimer(clock, 10_000, () => fired.push(clock.now()), {
      maxGraceMs: 5_000,
      onStall: (lost, grace) => stalls.push([lost, grace]),
    });
    clock.advance(2_000);
    clock.stall(20_000); // SIGSTOP from 2 s to 22 s: the deadline passed while we were stopped
    clock.advance(0);
    assert.deepEqual(fired, [], 'not expired on resume');
    assert.deepEqual(stalls, [[12_000, 5_000]]);
    clock.advance(4_999);
    assert.deepEqual(fired, []);
    clock.advance(1);
    assert.deepEqual(fired, [27_000], 'expired once the grace ran out');
  });

  it('does not forgive ordinary timer jitter', () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    leaseTimer(clock, 1_000, () => fired.push(clock.now()), { maxGraceMs: 10_000 });
    clock.stall(1_000 + STALL_THRESHOLD_MS);
    clock.advance(0);
    assert.deepEqual(fired, [1_000 + STALL_THRESHOLD_MS]);
  });

  it('fires nothing once cleared, also during a grace', () => {
    const clock = new FakeClock(0);
    let fired = 0;
    const t = leaseTimer(clock, 1_000, () => fired++, { maxGraceMs: 10_000 });
    clock.stall(5_000);
    clock.advance(0);
    t.clear();
    clock.advance(60_000);
    assert.equal(fired, 0);
    assert.equal(clock.pending, 0);
  });
});
