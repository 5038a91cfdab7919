import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import v8 from 'node:v8';
import { compactingGc, type HeapCompactorOptions, startHeapCompactor } from './compact.js';

const MiB = 1024 * 1024;

describe('startHeapCompactor', () => {
  function setup(over: Partial<HeapCompactorOptions> = {}) {
    const t = { used: 20 * MiB, total: 40 * MiB, utilization: 0.01, now: 0, compactions: 0 };
    const c = startHeapCompactor({
      intervalMs: 3_600_000, // the test calls check() itself
      heap: () => ({ used: t.used, total: t.total }),
      utilization: () => t.utilization,
      compact: async () => {
        t.compactions++;
      },
      now: () => t.now,
      ...over,
    });
    return { t, c };
  }

  it('compacts a quiet daemon whose heap holds much more than it uses', () => {
    const { t, c } = setup();
    assert.equal(c.check(), true);
    assert.equal(t.compactions, 1);
    c.stop();
  });

  it('leaves a busy daemon alone', () => {
    const { t, c } = setup();
    t.utilization = 0.3;
    assert.equal(c.check(), false);
    assert.equal(t.compactions, 0);
    c.stop();
  });

  it('leaves a heap with little unused space, absolute or relative to what it uses', () => {
    const { t, c } = setup();
    t.total = t.used + 7 * MiB; // under 8 MiB
    assert.equal(c.check(), false);
    t.used = 60 * MiB;
    t.total = 74 * MiB; // 14 MiB unused, but under a quarter of 60
    assert.equal(c.check(), false);
    assert.equal(t.compactions, 0);
    c.stop();
  });

  it('compacts once when a busy interval is followed by a quiet one, whatever the heap says', () => {
    const { t, c } = setup();
    t.total = t.used + 1 * MiB; // a burst's garbage counts as used until a full GC
    assert.equal(c.check(), false, 'quiet, no burst, no slack');
    t.utilization = 0.5;
    assert.equal(c.check(), false, 'busy');
    t.utilization = 0.01;
    assert.equal(c.check(), true, 'the burst ended');
    t.now = 60_000;
    assert.equal(c.check(), false, 'once per burst');
    assert.equal(t.compactions, 1);
    c.stop();
  });

  it('compacts at most once per minGapMs, and never twice at once', async () => {
    const { t, c } = setup({ minGapMs: 30_000 });
    const settle = () => new Promise((r) => setImmediate(r));
    assert.equal(c.check(), true);
    await settle();
    t.now = 29_999;
    assert.equal(c.check(), false);
    t.now = 30_000;
    assert.equal(c.check(), true);
    t.now = 60_000;
    assert.equal(c.check(), false, 'the one started at 30 s is still running');
    await settle();
    assert.equal(c.check(), true);
    assert.equal(t.compactions, 3);
    c.stop();
  });
});

describe('compactingGc', () => {
  it('gives back the pages a fragmented heap no longer needs', async () => {
    // Fill pages, then keep one object in ten: every page stays partly used, so only moving the
    // survivors together frees them.
    let objs: { a: string; b: number[] }[] = [];
    for (let i = 0; i < 200_000; i++) objs.push({ a: `x${i}`, b: [i, i + 1] });
    objs = objs.filter((_, i) => i % 10 === 0);
    const before = v8.getHeapStatistics().total_heap_size;
    await compactingGc();
    const after = v8.getHeapStatistics();
    // Less than the pages the 200 000 objects filled (~20 MB): the survivors were moved together.
    assert.ok(before - after.total_heap_size > 10 * MiB, `${after.total_heap_size} vs ${before}`);
    assert.equal(objs.length, 20_000);
    assert.equal((globalThis as { gc?: unknown }).gc, undefined, 'gc stays hidden from the globals');
  });

  it("uses flags that this node's V8 knows", () => {
    // v8.setFlagsFromString ignores an unknown name without a word.
    const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    for (const name of ['expose-gc']) assert.match(known, new RegExp(`^\\s+--${name} `, 'm'), name);
  });
});
