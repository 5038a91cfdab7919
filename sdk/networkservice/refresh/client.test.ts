import assert from 'node:assert/strict';
import { Connection } from '../../../api/gen/networkservice/connection.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { type ConnectionPatch, request } from '../../testing/connections.js';
import { eventually, never } from '../../testing/eventually.js';
import { injectError } from '../../testing/inject.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import * as begin from '../begin/index.js';
import * as metadata from '../metadata/index.js';
import * as refresh from './index.js';

const NOW = Date.UTC(2024, 0, 1);
const at = (ms: number) => new Date(NOW + ms);

/** A path of `expires` (ms from NOW, or undefined) per segment, with the caller at `index`. */
function path(expires: (number | undefined)[], index = 0): ConnectionPatch {
  return {
    id: 'c-0',
    path: {
      index,
      pathSegments: expires.map((e, i) => ({
        id: `c-${i}`,
        name: `hop-${i}`,
        expires: e === undefined ? undefined : at(e),
      })),
    },
  };
}

describe('refresh client', () => {
  verifyNoLeaks();

  describe('refreshDelay', () => {
    const cases: { name: string; patch: ConnectionPatch; want: number | undefined }[] = [
      { name: 'no path: no refresh', patch: {}, want: undefined },
      { name: 'no expiry on any segment: no refresh', patch: path([undefined, undefined]), want: undefined },
      { name: 'one segment: a third of the time left', patch: path([30_000]), want: 10_000 },
      {
        name: 'first of three: 0.2 of the time left',
        patch: path([60_000, 60_000, 60_000], 0),
        want: 12_000,
      },
      { name: 'second of three: 0.2 + 0.2·1/3', patch: path([60_000, 60_000, 60_000], 1), want: 16_000 },
      { name: 'last of two: 0.2 + 0.2·1/2', patch: path([60_000, 60_000], 1), want: 18_000 },
      {
        name: 'the earliest expiry of all segments counts',
        patch: path([60_000, 10_000, 60_000]),
        want: 2_000,
      },
      { name: 'segments without expiry are skipped', patch: path([undefined, 10_000]), want: 2_000 },
      { name: 'already expired: at once', patch: path([-5_000, 60_000]), want: 0 },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(refresh.refreshDelay(Connection.fromPartial(c.patch), NOW), c.want));
    }
  });

  /** Counts the requests that reach the end of the chain; each one answers with the path it got. */
  function counter(): NetworkServiceElement & { requests: number } {
    const el = {
      requests: 0,
      async request(_ctx: unknown, req: { connection?: Connection }) {
        el.requests++;
        return Connection.fromPartial(req.connection!);
      },
      close: async () => {},
    };
    return el;
  }

  function setup(patch: ConnectionPatch, failing?: NetworkServiceElement) {
    const clock = new FakeClock(NOW);
    const tail = counter();
    const elements = [begin.newClient(), metadata.newServer(), refresh.newClient()];
    if (failing) elements.push(failing);
    const chain = newNetworkServiceChain(...elements, tail);
    return { clock, tail, chain, ctx: fakeContext(clock), req: request(patch) };
  }

  it('re-requests through begin at a third of the time left, then again for the new expiry', async () => {
    const t = setup(path([30_000]));
    const conn = await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(9_999);
    assert.equal(t.tail.requests, 1, 'not before 10 s');
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(t.tail.requests, 2));
    // The path is unchanged, so the expiry is now 20 s away: next refresh a third of that later.
    await t.clock.advanceAsync(Math.floor(20_000 / 3) - 1);
    assert.equal(t.tail.requests, 2);
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(t.tail.requests, 3));
    await t.chain.close(t.ctx, conn);
  });

  it('refreshes the client sooner than an inner hop (0.2 of the time left)', async () => {
    const t = setup(path([60_000, 60_000]));
    const conn = await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(11_999);
    assert.equal(t.tail.requests, 1);
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(t.tail.requests, 2));
    await t.chain.close(t.ctx, conn);
  });

  it(`retries a failed refresh every ${refresh.RETRY_INTERVAL_MS} ms until it works`, async () => {
    const failing = injectError({ requestTimes: [2, 3] });
    const t = setup(path([30_000]), failing);
    const conn = await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(10_000);
    await eventually(() => assert.equal(failing.requests, 2));
    await t.clock.advanceAsync(refresh.RETRY_INTERVAL_MS - 1);
    assert.equal(failing.requests, 2, 'waits the retry interval');
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(failing.requests, 3));
    await t.clock.advanceAsync(refresh.RETRY_INTERVAL_MS);
    await eventually(() => assert.equal(t.tail.requests, 2, 'the third attempt gets through'));
    // Back on the normal schedule: nothing for a while.
    await t.clock.advanceAsync(5_000);
    assert.equal(t.tail.requests, 2);
    await t.chain.close(t.ctx, conn);
  });

  it('gives up a refresh stuck on a hung hop at half the time left, then tries again before the expiry', async () => {
    // The second request hangs until its deadline (a hop stopped with SIGSTOP); later ones answer.
    const aborted: number[] = [];
    let clockRef: FakeClock | undefined;
    const hanging: NetworkServiceElement = {
      request: (ctx, req) => {
        if (hangs++ !== 1) return next.client(ctx).request(ctx, req);
        return new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => {
            aborted.push(clockRef!.now() - NOW);
            reject(ctx.signal.reason);
          }),
        );
      },
      close: (ctx, conn) => next.client(ctx).close(ctx, conn),
    };
    let hangs = 0;
    const t = setup(path([30_000]), hanging);
    clockRef = t.clock;
    const conn = await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(10_000); // the refresh starts, 20 s before the expiry
    await t.clock.advanceAsync(9_999);
    assert.deepEqual(aborted, [], 'not before half the time left');
    await t.clock.advanceAsync(1);
    await eventually(() => assert.deepEqual(aborted, [20_000]));
    await t.clock.advanceAsync(refresh.RETRY_INTERVAL_MS);
    await eventually(() => assert.equal(t.tail.requests, 2, 'the retry gets through before the expiry'));
    await t.chain.close(t.ctx, conn);
  });

  describe('attemptTimeout', () => {
    const cases: { name: string; patch: ConnectionPatch; want: number | undefined }[] = [
      { name: 'no expiry: the default', patch: path([undefined]), want: undefined },
      { name: 'half the time left before the earliest expiry', patch: path([60_000, 8_000]), want: 4_000 },
      { name: `at least ${refresh.MIN_ATTEMPT_MS} ms`, patch: path([-1_000]), want: refresh.MIN_ATTEMPT_MS },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(refresh.attemptTimeout(Connection.fromPartial(c.patch), NOW), c.want));
    }
  });

  it('stops refreshing when the connection is closed', async () => {
    const t = setup(path([30_000]));
    const conn = await t.chain.request(t.ctx, t.req);
    assert.equal(t.clock.pending, 1);
    await t.chain.close(t.ctx, conn);
    assert.equal(t.clock.pending, 0);
    await t.clock.advanceAsync(60_000);
    await never(() => t.tail.requests > 1);
  });

  it('does nothing without begin in front of it', async () => {
    const clock = new FakeClock(NOW);
    const tail = counter();
    const chain = newNetworkServiceChain(metadata.newServer(), refresh.newClient(), tail);
    await chain.request(fakeContext(clock), request(path([30_000])));
    assert.equal(clock.pending, 0);
  });
});
