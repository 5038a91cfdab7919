import assert from 'node:assert/strict';
import { Connection } from '../../../api/gen/networkservice/connection.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { type ConnectionPatch, request } from '../../testing/connections.js';
import { eventually } from '../../testing/eventually.js';
import { injectError } from '../../testing/inject.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import * as begin from '../begin/index.js';
import * as metadata from '../metadata/index.js';
import * as timeout from './index.js';
import { closeDelay, expiryOf } from './server.js';

const NOW = Date.UTC(2024, 0, 1);
const at = (ms: number) => new Date(NOW + ms);

/** The endpoint's view: the client's segment (index 0) expires at `prevMs`, ours at `ownMs`. */
function path(prevMs: number | undefined, ownMs?: number, index = 1): ConnectionPatch {
  const segments = [
    { id: 'c-0', name: 'nsc', expires: prevMs === undefined ? undefined : at(prevMs) },
    { id: 'c-1', name: 'nse', expires: ownMs === undefined ? undefined : at(ownMs) },
  ];
  return { id: `c-${index}`, path: { index, pathSegments: segments } };
}

describe('timeout server', () => {
  verifyNoLeaks();

  describe('expiryOf', () => {
    const cases: { name: string; patch: ConnectionPatch; want: number | undefined }[] = [
      { name: 'the previous segment’s expiry', patch: path(10_000, 60_000), want: NOW + 10_000 },
      { name: 'our own when the previous has none', patch: path(undefined, 60_000), want: NOW + 60_000 },
      { name: 'our own on the first hop', patch: path(10_000, 60_000, 0), want: NOW + 10_000 },
      { name: 'none without expiries', patch: path(undefined), want: undefined },
      { name: 'none without a path', patch: {}, want: undefined },
    ];
    for (const c of cases) it(c.name, () => assert.equal(expiryOf(Connection.fromPartial(c.patch)), c.want));
  });

  describe('closeDelay: the time left minus 10 % of it, at most 1 s', () => {
    const cases: { leftMs: number; want: number }[] = [
      { leftMs: 60_000, want: 59_000 },
      { leftMs: 10_000, want: 9_000 },
      { leftMs: 5_000, want: 4_500 },
      { leftMs: 100, want: 90 },
      { leftMs: 0, want: 0 },
      { leftMs: -1_000, want: 0 },
    ];
    for (const c of cases)
      it(`${c.leftMs} ms left → ${c.want} ms`, () => assert.equal(closeDelay(c.leftMs), c.want));
  });

  function setup(patch: ConnectionPatch) {
    const clock = new FakeClock(NOW);
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), metadata.newServer(), timeout.newServer(), rec);
    return { clock, rec, chain, ctx: fakeContext(clock), req: request(patch) };
  }
  const closes = (rec: ReturnType<typeof recorder>) => rec.calls.filter((c) => c.op === 'close').length;

  it('closes the connection at the previous segment’s expiry minus the margin', async () => {
    const t = setup(path(10_000, 60_000));
    await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(8_999);
    assert.equal(closes(t.rec), 0, 'not before expiry − 1 s');
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(closes(t.rec), 1));
    assert.equal(t.rec.calls.at(-1)?.conn?.id, 'c-1');
    assert.equal(t.clock.pending, 0);
  });

  it('moves the close when a refresh brings a later expiry', async () => {
    const t = setup(path(10_000));
    await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(5_000);
    await t.chain.request(t.ctx, request(path(20_000)));
    await t.clock.advanceAsync(10_000);
    assert.equal(closes(t.rec), 0, 'the first deadline no longer counts');
    assert.equal(t.clock.pending, 1, 'one timer per connection');
    await t.clock.advanceAsync(4_000);
    await eventually(() => assert.equal(closes(t.rec), 1));
  });

  it('a hop stopped past the expiry waits for the refresh on resume instead of closing at once', async () => {
    const t = setup(path(10_000));
    await t.chain.request(t.ctx, t.req);
    await t.clock.advanceAsync(2_000);
    t.clock.stall(20_000); // SIGSTOP for two lifetimes: the client's refreshes could not get in
    await t.clock.advanceAsync(0);
    assert.equal(closes(t.rec), 0, 'not closed on resume');
    await t.chain.request(t.ctx, request(path(32_000))); // the client's retried refresh gets through
    await t.clock.advanceAsync(8_999);
    assert.equal(closes(t.rec), 0);
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(closes(t.rec), 1));
  });

  it('still closes after the grace when the client is gone (at most one lifetime later)', async () => {
    const t = setup(path(10_000));
    await t.chain.request(t.ctx, t.req);
    t.clock.stall(25_000); // the deadline (9 s) passed 16 s ago; the grace is capped at 10 s
    await t.clock.advanceAsync(9_999);
    assert.equal(closes(t.rec), 0);
    await t.clock.advanceAsync(1);
    await eventually(() => assert.equal(closes(t.rec), 1));
  });

  describe('while the previous hop still watches the connection (hung, not dead)', () => {
    function watchedSetup(patch: ConnectionPatch) {
      const clock = new FakeClock(NOW);
      const rec = recorder();
      const state = { watching: true, asked: [] as string[] };
      const chain = newNetworkServiceChain(
        begin.newServer(),
        metadata.newServer(),
        timeout.newServer({
          previousHopWatching: (id) => {
            state.asked.push(id);
            return state.watching;
          },
        }),
        rec,
      );
      return { clock, rec, chain, ctx: fakeContext(clock), req: request(patch), state };
    }

    it('holds the connection past the expiry, and a late refresh keeps it', async () => {
      const t = watchedSetup(path(10_000));
      await t.chain.request(t.ctx, t.req);
      await t.clock.advanceAsync(25_000); // 2.5 lifetimes: the previous hop hung for all of it
      assert.equal(closes(t.rec), 0);
      assert.equal(t.state.asked[0], 'c-1', 'asks about this hop’s connection');
      await t.chain.request(t.ctx, request(path(35_000))); // it resumed and refreshed
      t.state.watching = false;
      await t.clock.advanceAsync(8_999);
      assert.equal(closes(t.rec), 0, 'back on the normal deadline');
      await t.clock.advanceAsync(1);
      await eventually(() => assert.equal(closes(t.rec), 1));
      assert.equal(t.clock.pending, 0);
    });

    it('closes as soon as the previous hop’s stream goes (it died)', async () => {
      const t = watchedSetup(path(10_000));
      await t.chain.request(t.ctx, t.req);
      await t.clock.advanceAsync(12_000);
      assert.equal(closes(t.rec), 0);
      t.state.watching = false;
      await t.clock.advanceAsync(1_000);
      await eventually(() => assert.equal(closes(t.rec), 1));
    });

    it(`closes after ${timeout.MAX_HOLD_LIFETIMES} more lifetimes even if the stream stays`, async () => {
      const t = watchedSetup(path(10_000));
      await t.chain.request(t.ctx, t.req);
      await t.clock.advanceAsync(9_000 + timeout.MAX_HOLD_LIFETIMES * 10_000 - 1);
      assert.equal(closes(t.rec), 0);
      await t.clock.advanceAsync(1);
      await eventually(() => assert.equal(closes(t.rec), 1));
      assert.equal(t.clock.pending, 0);
    });

    it('leaves no timer behind when the client closes during the hold', async () => {
      const t = watchedSetup(path(10_000));
      const conn = await t.chain.request(t.ctx, t.req);
      await t.clock.advanceAsync(12_000);
      await t.chain.close(t.ctx, conn);
      assert.equal(t.clock.pending, 0);
    });
  });

  it('cancels the close when the client closes first', async () => {
    const t = setup(path(10_000));
    const conn = await t.chain.request(t.ctx, t.req);
    await t.chain.close(t.ctx, conn);
    assert.equal(t.clock.pending, 0);
    await t.clock.advanceAsync(20_000);
    assert.equal(closes(t.rec), 1);
  });

  it('arms nothing when the request fails', async () => {
    const clock = new FakeClock(NOW);
    const chain = newNetworkServiceChain(
      begin.newServer(),
      metadata.newServer(),
      timeout.newServer(),
      injectError(),
    );
    await assert.rejects(chain.request(fakeContext(clock), request(path(10_000))), /injected error/);
    assert.equal(clock.pending, 0);
  });

  it('arms nothing without an expiry', async () => {
    const t = setup(path(undefined));
    await t.chain.request(t.ctx, t.req);
    assert.equal(t.clock.pending, 0);
  });
});
