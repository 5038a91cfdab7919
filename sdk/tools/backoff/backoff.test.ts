import assert from 'node:assert/strict';
import {
  cappedDoubling,
  constantBackoff,
  grpcReconnectOptions,
  INITIAL_BACKOFF_MS,
  MAX_BACKOFF_MS,
  MAX_GRPC_RECONNECT_BACKOFF_MS,
} from './index.js';

const take = (b: { next(): number }, n: number) => Array.from({ length: n }, () => b.next());

describe('backoff', () => {
  describe('cappedDoubling', () => {
    it('doubles from the initial delay up to the cap', () => {
      assert.deepEqual(
        take(cappedDoubling({ initialMs: 50, maxMs: 300 })(), 6),
        [50, 100, 200, 300, 300, 300],
      );
    });

    it('uses the toolkit defaults', () => {
      const delays = take(cappedDoubling()(), 10);
      assert.equal(delays[0], INITIAL_BACKOFF_MS);
      assert.equal(delays.at(-1), MAX_BACKOFF_MS);
    });

    it('starts over after reset (a success)', () => {
      const b = cappedDoubling({ initialMs: 10, maxMs: 100 })();
      take(b, 4);
      b.reset();
      assert.deepEqual(take(b, 2), [10, 20]);
    });

    it('gives every loop its own sequence', () => {
      const factory = cappedDoubling({ initialMs: 10, maxMs: 100 });
      const a = factory();
      take(a, 3);
      assert.equal(factory().next(), 10);
    });

    const bad: { name: string; opts: { initialMs?: number; maxMs?: number } }[] = [
      { name: 'a zero initial delay', opts: { initialMs: 0 } },
      { name: 'a cap below the initial delay', opts: { initialMs: 500, maxMs: 100 } },
      { name: 'NaN', opts: { initialMs: Number.NaN } },
    ];
    for (const c of bad) {
      it(`rejects ${c.name}`, () => assert.throws(() => cappedDoubling(c.opts), RangeError));
    }
  });

  it('constantBackoff waits the same every time', () => {
    assert.deepEqual(take(constantBackoff(200)(), 3), [200, 200, 200]);
    assert.throws(() => constantBackoff(-1), RangeError);
  });

  it('grpcReconnectOptions gives gRPC channels the same numbers', () => {
    assert.deepEqual(grpcReconnectOptions(), {
      'grpc.initial_reconnect_backoff_ms': INITIAL_BACKOFF_MS,
      'grpc.max_reconnect_backoff_ms': MAX_GRPC_RECONNECT_BACKOFF_MS,
    });
    assert.equal(grpcReconnectOptions({ maxMs: 5_000 })['grpc.max_reconnect_backoff_ms'], 5_000);
  });
});
