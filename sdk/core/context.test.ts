import assert from 'node:assert/strict';
import { getEventListeners } from 'node:events';
import { FakeClock, fakeContext } from '../testing/clock.js';
import { verifyNoLeaks } from '../testing/leaks.js';
import { background, followParent, postpone, value, withCancel, withTimeout, withValue } from './context.js';

describe('context', () => {
  verifyNoLeaks();

  describe('withValue', () => {
    it('returns a new context and leaves the parent unchanged', () => {
      const key = Symbol('k');
      const parent = background();
      const child = withValue(parent, key, 42);
      assert.equal(value(child, key), 42);
      assert.equal(value(parent, key), undefined);
      assert.notEqual(child, parent);
    });

    it('lets a child shadow a value without changing its siblings', () => {
      const key = Symbol('k');
      const a = withValue(background(), key, 'a');
      const b = withValue(a, key, 'b');
      assert.equal(value(a, key), 'a');
      assert.equal(value(b, key), 'b');
    });

    it('keeps the signal and the deadline', () => {
      const { ctx, cancel } = withTimeout(background(), 10_000);
      const child = withValue(ctx, Symbol('k'), 1);
      assert.equal(child.signal, ctx.signal);
      assert.equal(child.deadline, ctx.deadline);
      cancel();
    });
  });

  describe('withCancel', () => {
    it('aborts the child but not the parent when cancelled', () => {
      const parent = withCancel(background());
      const child = withCancel(parent.ctx);
      child.cancel(new Error('stop'));
      assert.equal(child.ctx.signal.aborted, true);
      assert.equal((child.ctx.signal.reason as Error).message, 'stop');
      assert.equal(parent.ctx.signal.aborted, false);
      parent.cancel();
    });

    it('aborts the child with the parent reason when the parent is cancelled', () => {
      const parent = withCancel(background());
      const child = withCancel(parent.ctx);
      parent.cancel(new Error('parent gone'));
      assert.equal(child.ctx.signal.aborted, true);
      assert.equal((child.ctx.signal.reason as Error).message, 'parent gone');
    });

    it('starts aborted when the parent already is', () => {
      const parent = withCancel(background());
      parent.cancel(new Error('early'));
      const child = withCancel(parent.ctx);
      assert.equal(child.ctx.signal.aborted, true);
      assert.equal((child.ctx.signal.reason as Error).message, 'early');
    });

    it('keeps the first reason when cancelled twice, and ignores the parent after its own cancel', () => {
      const parent = withCancel(background());
      const child = withCancel(parent.ctx);
      child.cancel(new Error('first'));
      child.cancel(new Error('second'));
      parent.cancel(new Error('parent'));
      assert.equal((child.ctx.signal.reason as Error).message, 'first');
    });

    it('gives a default reason', () => {
      const c = withCancel(background());
      c.cancel();
      assert.match(String(c.ctx.signal.reason), /context cancelled/);
    });
  });

  describe('followParent', () => {
    it('is aborted with the parent, or by abort, with the reason', () => {
      const { ctx: parent, cancel } = withCancel(background());
      const a = followParent(parent);
      const b = followParent(parent);
      b.abort('mine');
      assert.equal(b.ctx.signal.reason, 'mine');
      assert.equal(parent.signal.aborted, false, 'a child never aborts its parent');
      cancel('closing');
      assert.equal(a.ctx.signal.reason, 'closing');
    });

    it('is born aborted under an aborted parent', () => {
      const { ctx: parent, cancel } = withCancel(background());
      cancel('gone');
      assert.equal(followParent(parent).ctx.signal.reason, 'gone');
    });

    it('leaves nothing on the parent once unlinked, however many children came and went', () => {
      const { ctx: parent } = withCancel(background());
      for (let i = 0; i < 1000; i++) followParent(parent).unlink();
      assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
      const kept = followParent(parent);
      assert.equal(getEventListeners(parent.signal, 'abort').length, 1);
      kept.unlink();
      kept.unlink(); // twice is harmless
      assert.equal(getEventListeners(parent.signal, 'abort').length, 0);
    });

    it('is not aborted by unlink, nor by the parent afterwards', () => {
      const { ctx: parent, cancel } = withCancel(background());
      const child = followParent(parent);
      child.unlink();
      cancel('closing');
      assert.equal(child.ctx.signal.aborted, false);
    });
  });

  describe('withTimeout', () => {
    it('aborts after the timeout with a deadline error', async () => {
      const { ctx, cancel } = withTimeout(background(), 20);
      assert.equal(ctx.signal.aborted, false);
      await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      assert.match((ctx.signal.reason as Error).message, /deadline of 20 ms exceeded/);
      cancel();
    });

    it('sets the deadline, but never later than the parent deadline', () => {
      const before = Date.now();
      const outer = withTimeout(background(), 1_000);
      const inner = withTimeout(outer.ctx, 60_000);
      assert.ok(outer.ctx.deadline! >= before + 1_000 && outer.ctx.deadline! <= Date.now() + 1_000);
      assert.equal(inner.ctx.deadline, outer.ctx.deadline);
      const shorter = withTimeout(outer.ctx, 10);
      assert.ok(shorter.ctx.deadline! < outer.ctx.deadline!);
      shorter.cancel();
      inner.cancel();
      outer.cancel();
    });

    it('aborts at the parent deadline, not its own longer timeout', async () => {
      const outer = withTimeout(background(), 20);
      const inner = withTimeout(outer.ctx, 60_000);
      const started = Date.now();
      await new Promise((r) => inner.ctx.signal.addEventListener('abort', r, { once: true }));
      assert.ok(Date.now() - started < 5_000);
      inner.cancel();
      outer.cancel();
    });

    it('runs on the context clock', () => {
      const fake = new FakeClock(5_000);
      const { ctx, cancel } = withTimeout(fakeContext(fake), 1_000);
      assert.equal(ctx.deadline, 6_000);
      fake.advance(999);
      assert.equal(ctx.signal.aborted, false);
      fake.advance(1);
      assert.equal(ctx.signal.aborted, true);
      cancel();
      assert.equal(fake.pending, 0);
    });

    it('releases its timer on cancel', async () => {
      // verifyNoLeaks fails this test if the 60 s timer stays active.
      const { ctx, cancel } = withTimeout(background(), 60_000);
      cancel();
      assert.equal(ctx.signal.aborted, true);
    });
  });

  describe('postpone', () => {
    it('gives a live context with the same values after the original was cancelled', () => {
      const key = Symbol('k');
      const original = withCancel(withValue(background(), key, 'v'));
      const later = postpone(original.ctx);
      original.cancel();
      const { ctx, cancel } = later();
      assert.equal(ctx.signal.aborted, false);
      assert.equal(value(ctx, key), 'v');
      cancel();
    });

    it('keeps the budget that was left when it was postponed', () => {
      const original = withTimeout(background(), 5_000);
      const later = postpone(original.ctx);
      original.cancel();
      const { ctx, cancel } = later();
      const budget = ctx.deadline! - Date.now();
      assert.ok(budget > 4_000 && budget <= 5_000, `budget ${budget}`);
      cancel();
    });

    it('measures the budget on the context clock', () => {
      const fake = new FakeClock(0);
      const original = withTimeout(fakeContext(fake), 5_000);
      fake.advance(2_000);
      const later = postpone(original.ctx);
      original.cancel();
      fake.advance(10_000);
      const { ctx, cancel } = later();
      assert.equal(ctx.deadline, fake.now() + 3_000, 'the 3 s left at postpone, from when it is used');
      fake.advance(3_000);
      assert.equal(ctx.signal.aborted, true);
      cancel();
    });

    it('gives at least one second, and 15 s without a deadline', () => {
      const almostOver = postpone({ ...background(), deadline: Date.now() + 10 })();
      assert.ok(almostOver.ctx.deadline! - Date.now() >= 900);
      almostOver.cancel();
      const none = postpone(background())();
      const budget = none.ctx.deadline! - Date.now();
      assert.ok(budget > 14_000 && budget <= 15_000, `budget ${budget}`);
      none.cancel();
    });
  });
});
