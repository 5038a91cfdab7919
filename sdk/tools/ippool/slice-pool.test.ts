import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../../errors/index.js';
import { SlicePool } from './slice-pool.js';

describe('slice pool', () => {
  let t = 0;
  const pool = () => new SlicePool({ prefix: '172.16.0.0/22', sliceLength: 24, leaseMs: 1000, now: () => t });
  beforeEach(() => {
    t = 0;
  });

  it('gives each owner its own slice, the same one again while it holds it', () => {
    const p = pool();
    assert.equal(p.allocate('a', undefined, []), '172.16.0.0/24');
    assert.equal(p.allocate('b', undefined, []), '172.16.1.0/24');
    assert.equal(p.allocate('a', undefined, []), '172.16.0.0/24');
  });

  it('gives a restarted owner its slice back within the lease, and to others only after it', () => {
    const p = pool();
    p.allocate('a', undefined, []);
    p.release('a');
    t = 500;
    assert.equal(p.allocate('b', undefined, []), '172.16.1.0/24', 'the reserved slice is not given away');
    assert.equal(p.allocate('a', undefined, []), '172.16.0.0/24');
    p.release('a');
    t = 2000;
    assert.equal(p.allocate('c', undefined, []), '172.16.0.0/24', 'the lease ran out');
  });

  it('honours a wanted slice when it is free, and never an excluded one', () => {
    const p = pool();
    assert.equal(p.allocate('a', '172.16.2.0/24', []), '172.16.2.0/24');
    assert.equal(p.allocate('b', '172.16.2.0/24', []), '172.16.0.0/24', 'taken: the first free one');
    assert.equal(p.allocate('c', 'junk', ['172.16.1.128/25']), '172.16.3.0/24');
  });

  it('moves an owner whose slice became excluded', () => {
    const p = pool();
    p.allocate('a', undefined, []);
    assert.equal(p.allocate('a', undefined, ['172.16.0.0/24']), '172.16.1.0/24');
  });

  it('fails with RESOURCE_EXHAUSTED naming the prefix when nothing is left, and DELETE frees at once', () => {
    const p = pool();
    for (const o of ['a', 'b', 'c', 'd']) p.allocate(o, undefined, []);
    assert.throws(
      () => p.allocate('e', undefined, []),
      (e: unknown) =>
        isNsmError(e) && e.code === status.RESOURCE_EXHAUSTED && /172\.16\.0\.0\/22/.test(e.message),
    );
    p.free('b');
    assert.equal(p.allocate('e', undefined, []), '172.16.1.0/24');
  });

  it('refuses a slice length outside the prefix', () => {
    assert.throws(
      () => new SlicePool({ prefix: '10.0.0.0/16', sliceLength: 8, leaseMs: 0 }),
      /invalid slice length/,
    );
  });
});
