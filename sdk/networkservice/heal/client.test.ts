import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import {
  Connection,
  type ConnectionEvent,
  ConnectionEventType,
  type MonitorScopeSelector,
  State,
} from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement, NetworkServiceRequest } from '../../core/types.js';
import { NsmError } from '../../errors/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { pathOf, request } from '../../testing/connections.js';
import { eventually, never } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { constantBackoff } from '../../tools/backoff/index.js';
import { heals, reselects, setMetricsEnabled } from '../../tools/metrics/index.js';
import * as begin from '../begin/index.js';
import { withClientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';
import * as heal from './index.js';

const NSMGR = 'unix:///run/nsm/nsmgr.sock';
const BACKOFF_MS = 100;
const LIVENESS_INTERVAL_MS = 200;
const LIVENESS_GRACE_MS = 150;

interface FakeStream {
  url: string;
  selector: MonitorScopeSelector;
  onEvent: (ev: ConnectionEvent) => void;
  onEnd: (err: Error) => void;
  cancelled: boolean;
}

/** Records the monitor streams heal opens; the test ends them or sends events by hand. */
function fakePool() {
  const streams: FakeStream[] = [];
  return {
    streams,
    live: () => streams.filter((s) => !s.cancelled),
    monitor(
      url: string,
      selector: MonitorScopeSelector,
      onEvent: FakeStream['onEvent'],
      onEnd: FakeStream['onEnd'],
    ) {
      const s: FakeStream = { url, selector, onEvent, onEnd, cancelled: false };
      streams.push(s);
      return {
        close: async () => {
          s.cancelled = true;
        },
      };
    },
  };
}

interface Seen {
  op: 'request' | 'close';
  state?: State;
  nse: string;
}

/**
 * The rest of the path: answers requests with an endpoint (nse-1 unless the request names one, then
 * nse-2 after a reselect), failing the next ones with the errors in `failures`.
 */
function endpoint() {
  const seen: Seen[] = [];
  const failures: unknown[] = [];
  const el: NetworkServiceElement = {
    async request(ctx: Context, req: NetworkServiceRequest) {
      const c = req.connection!;
      seen.push({ op: 'request', state: c.state, nse: c.networkServiceEndpointName });
      const failure = failures.shift();
      if (failure === HANG) {
        await new Promise((_, reject) =>
          ctx.signal.addEventListener('abort', () => reject(new NsmError(status.CANCELLED, 'cancelled'))),
        );
      }
      if (failure) throw failure;
      const nse = c.networkServiceEndpointName || (seen.length > 1 ? 'nse-2' : 'nse-1');
      return Connection.fromPartial({ ...c, networkServiceEndpointName: nse, state: State.UP });
    },
    async close(_ctx, conn) {
      seen.push({ op: 'close', nse: conn.networkServiceEndpointName });
    },
  };
  return { el, seen, failures, requests: () => seen.filter((s) => s.op === 'request') };
}

function setup(
  opts: { alive?: () => boolean; livenessCheck?: boolean; check?: () => Promise<boolean> } = {},
) {
  const clock = new FakeClock();
  const pool = fakePool();
  const ep = endpoint();
  let checks = 0;
  const alive = opts.alive ?? (() => true);
  const chain = newNetworkServiceChain(
    begin.newClient(),
    metadata.newServer(),
    heal.newClient({
      pool,
      backoff: constantBackoff(BACKOFF_MS),
      livenessIntervalMs: LIVENESS_INTERVAL_MS,
      livenessGraceMs: LIVENESS_GRACE_MS,
      livenessCheck:
        opts.livenessCheck === false
          ? undefined
          : async () => {
              checks++;
              return opts.check ? opts.check() : alive();
            },
    }),
    ep.el,
  );
  const ctx = withClientURL(fakeContext(clock), NSMGR);
  const req = request(pathOf(['nsc', 'nsmgr'], 0));
  return { clock, pool, ep, chain, ctx, req, checks: () => checks };
}

const died = () => new NsmError(status.UNAVAILABLE, 'nsmgr died');
/** The nsmgr's monitor stream says a hop asked for a reselect of the client's connection. */
function askReselect(s: FakeStream): void {
  s.onEvent({
    type: ConnectionEventType.UPDATE,
    connections: {
      'nsmgr-id-1': Connection.fromPartial({
        ...pathOf(['nsc', 'nsmgr'], 1),
        state: State.RESELECT_REQUESTED,
      }),
    },
  });
}

/** In `failures`: the request hangs until its caller cancels it. */
const HANG = Symbol('hang');

describe('heal client', () => {
  verifyNoLeaks();

  it('requires a pool', () => {
    assert.throws(() => heal.newClient({} as heal.HealOptions), /opts.pool is required/);
  });

  it('watches the connection on the next hop with its own path segment', async () => {
    const t = setup();
    const conn = await t.chain.request(t.ctx, t.req);
    assert.equal(t.pool.live().length, 1);
    const s = t.pool.live()[0];
    assert.equal(s.url, NSMGR);
    assert.deepEqual(
      s.selector.pathSegments.map((p) => p.id),
      ['nsc-id-0'],
    );
    await t.chain.close(t.ctx, conn);
    assert.equal(t.pool.live().length, 0, 'close cancels the stream');
    assert.equal(t.clock.pending, 0, 'close stops the liveness checks');
  });

  describe('control plane failure with a working data plane: repair the same path', () => {
    const triggers: { name: string; fire: (s: FakeStream) => void }[] = [
      { name: 'the monitor stream breaks', fire: (s) => s.onEnd(died()) },
      {
        name: 'a hop reports the connection DOWN',
        fire: (s) =>
          s.onEvent({
            type: ConnectionEventType.UPDATE,
            connections: {
              'nsmgr-id-1': Connection.fromPartial({ ...pathOf(['nsc', 'nsmgr'], 1), state: State.DOWN }),
            },
          }),
      },
    ];
    for (const trig of triggers) {
      it(`re-requests without reselect when ${trig.name}`, async () => {
        const t = setup();
        const conn = await t.chain.request(t.ctx, t.req);
        trig.fire(t.pool.live()[0]);
        await eventually(() => assert.equal(t.ep.requests().length, 2));
        assert.deepEqual(t.ep.seen.at(-1), { op: 'request', state: State.UP, nse: 'nse-1' });
        assert.ok(!t.ep.seen.some((s) => s.op === 'close'), 'a repair closes nothing');
        await eventually(() => assert.equal(t.pool.live().length, 1, 'watches again after healing'));
        await t.chain.close(t.ctx, conn);
      });
    }

    it('ignores events about other connections', async () => {
      const t = setup();
      const conn = await t.chain.request(t.ctx, t.req);
      t.pool.live()[0].onEvent({
        type: ConnectionEventType.UPDATE,
        connections: { other: Connection.fromPartial({ ...pathOf(['x', 'y'], 1), state: State.DOWN }) },
      });
      await never(() => t.ep.requests().length > 1);
      await t.chain.close(t.ctx, conn);
    });

    it('retries a restarting hop after the backoff, on the context clock', async () => {
      const t = setup();
      const conn = await t.chain.request(t.ctx, t.req);
      t.ep.failures.push(died(), died());
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 2));
      await t.clock.advanceAsync(BACKOFF_MS - 1);
      await never(() => t.ep.requests().length > 2);
      await t.clock.advanceAsync(1);
      await eventually(() => assert.equal(t.ep.requests().length, 3));
      await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() => assert.equal(t.ep.requests().length, 4));
      assert.ok(
        t.ep
          .requests()
          .slice(1)
          .every((s) => s.state === State.UP && s.nse === 'nse-1'),
      );
      await t.chain.close(t.ctx, conn);
    });

    it('selects another endpoint when the endpoint is gone', async () => {
      const t = setup({ alive: () => false });
      const conn = await t.chain.request(t.ctx, t.req);
      t.ep.failures.push(new NsmError(status.NOT_FOUND, 'endpoint "nse-1" not found'));
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 3));
      assert.deepEqual(t.ep.seen.slice(-2), [
        { op: 'close', nse: 'nse-1' },
        { op: 'request', state: State.RESELECT_REQUESTED, nse: '' },
      ]);
      await t.chain.close(t.ctx, conn);
    });
  });

  describe('when the endpoint is not found but still answers in the data plane (nsmgr restarted before it re-registered)', () => {
    const notFound = () => new NsmError(status.NOT_FOUND, 'endpoint "nse-1" not found');

    it('repairs again after the backoff, tearing nothing down', async () => {
      const t = setup();
      const conn = await t.chain.request(t.ctx, t.req);
      t.ep.failures.push(notFound(), notFound());
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 2));
      await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() => assert.equal(t.ep.requests().length, 3));
      await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() => assert.equal(t.ep.requests().length, 4));
      assert.ok(!t.ep.seen.some((s) => s.op === 'close'), 'nothing was torn down');
      assert.deepEqual(t.ep.seen.at(-1), { op: 'request', state: State.UP, nse: 'nse-1' });
      await t.chain.close(t.ctx, conn);
    });

    it('selects another endpoint once the repair window passed', async () => {
      const t = setup();
      const conn = await t.chain.request(t.ctx, t.req);
      for (let i = 0; i < 1000; i++) t.ep.failures.push(notFound());
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 2));
      for (let ms = 0; ms <= heal.DEFAULT_REPAIR_WINDOW_MS; ms += BACKOFF_MS)
        await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() =>
        assert.ok(
          t.ep.requests().some((s) => s.state === State.RESELECT_REQUESTED),
          'a reselect',
        ),
      );
      assert.ok(
        t.ep.seen.some((s) => s.op === 'close'),
        'the old path closed first',
      );
      t.ep.failures.length = 0;
      await t.chain.close(t.ctx, conn);
    });
  });

  it('selects another endpoint at once, without a repair, when a hop asks for a reselect', async () => {
    const t = setup();
    const conn = await t.chain.request(t.ctx, t.req);
    askReselect(t.pool.live()[0]);
    await eventually(() => assert.equal(t.ep.requests().length, 2));
    assert.deepEqual(t.ep.seen.slice(-2), [
      { op: 'close', nse: 'nse-1' },
      { op: 'request', state: State.RESELECT_REQUESTED, nse: '' },
    ]);
    await eventually(() => assert.equal(t.pool.live().length, 1, 'watches the new path'));
    await t.chain.close(t.ctx, conn);
  });

  it('cancels a repair in flight and reselects when a hop asks for a reselect meanwhile', async () => {
    // The liveness check sees the dead endpoint before its forwarder's reselect request arrives.
    let alive = true;
    const t = setup({ alive: () => alive });
    const conn = await t.chain.request(t.ctx, t.req);
    t.ep.failures.push(HANG);
    alive = false;
    await t.clock.advanceAsync(LIVENESS_INTERVAL_MS);
    await t.clock.advanceAsync(LIVENESS_GRACE_MS); // no word from the path meanwhile
    await eventually(() => assert.equal(t.ep.requests().length, 2, 'the repair is in flight'));
    askReselect(t.pool.live()[0]);
    await eventually(() => assert.equal(t.ep.requests().length, 3));
    assert.deepEqual(t.ep.seen.slice(-3), [
      { op: 'request', state: State.UP, nse: 'nse-1' },
      { op: 'close', nse: 'nse-1' },
      { op: 'request', state: State.RESELECT_REQUESTED, nse: '' },
    ]);
    await t.chain.close(t.ctx, conn);
  });

  describe('dead data plane', () => {
    it('rebuilds the path to the same endpoint when a repair did not bring it back', async () => {
      let alive = true;
      const t = setup({ alive: () => alive });
      const conn = await t.chain.request(t.ctx, t.req);
      alive = false;
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 3));
      assert.deepEqual(t.ep.seen.slice(-3), [
        { op: 'request', state: State.UP, nse: 'nse-1' },
        { op: 'close', nse: 'nse-1' },
        { op: 'request', state: State.RESELECT_REQUESTED, nse: 'nse-1' },
      ]);
      await t.chain.close(t.ctx, conn);
    });

    it("counts the heal and its reselect in the metrics, under the client's name", async () => {
      setMetricsEnabled(true);
      try {
        const value = async (m: typeof heals | typeof reselects, labels: Record<string, string>) =>
          (await m.get()).values.find((v) =>
            Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want),
          )?.value ?? 0;
        const healed = await value(heals, { client: 'nsc', result: 'healed' });
        const reselected = await value(reselects, { client: 'nsc' });
        let alive = true;
        const t = setup({ alive: () => alive });
        const conn = await t.chain.request(t.ctx, t.req);
        alive = false;
        t.pool.live()[0].onEnd(died());
        await eventually(() => assert.equal(t.ep.requests().length, 3));
        await eventually(async () =>
          assert.equal(await value(heals, { client: 'nsc', result: 'healed' }), healed + 1),
        );
        assert.equal(await value(reselects, { client: 'nsc' }), reselected + 1);
        await t.chain.close(t.ctx, conn);
      } finally {
        setMetricsEnabled(false);
      }
    });

    it('selects another endpoint when the rebuild fails', async () => {
      const t = setup({ alive: () => false });
      const conn = await t.chain.request(t.ctx, t.req);
      t.ep.failures.push(undefined, died());
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 4));
      assert.deepEqual(
        t.ep.requests().map((s) => s.nse),
        ['', 'nse-1', 'nse-1', ''],
        'a repair, a rebuild to the same endpoint, then any',
      );
      await t.chain.close(t.ctx, conn);
    });

    it('waits for an unreachable path to come back instead of tearing it down (underlay down)', async () => {
      let alive = true;
      const t = setup({ alive: () => alive });
      const conn = await t.chain.request(t.ctx, t.req);
      alive = false;
      t.ep.failures.push(died(), died(), died());
      t.pool.live()[0].onEnd(died());
      for (let i = 0; i < 3; i++) {
        await eventually(() => assert.equal(t.ep.requests().length, 2 + i));
        if (i === 2) alive = true; // the underlay is back: the old kernel state carries traffic again
        await t.clock.advanceAsync(BACKOFF_MS);
      }
      await eventually(() => assert.equal(t.ep.requests().length, 5));
      assert.ok(!t.ep.seen.some((s) => s.op === 'close'), 'nothing was torn down');
      assert.ok(t.ep.requests().every((s) => s.state === State.UP));
      await t.chain.close(t.ctx, conn);
    });

    it('rebuilds once the path stayed unreachable for the repair window', async () => {
      const t = setup({ alive: () => false });
      const conn = await t.chain.request(t.ctx, t.req);
      for (let i = 0; i < 100; i++) t.ep.failures.push(died());
      t.pool.live()[0].onEnd(died());
      await eventually(() => assert.equal(t.ep.requests().length, 2));
      for (let ms = 0; ms < heal.DEFAULT_REPAIR_WINDOW_MS; ms += BACKOFF_MS)
        await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() =>
        assert.ok(
          t.ep.requests().some((s) => s.state === State.RESELECT_REQUESTED),
          'a rebuild',
        ),
      );
      const repairs = t.ep.requests().filter((s) => s.state === State.UP).length - 1;
      assert.ok(repairs >= heal.DEFAULT_REPAIR_WINDOW_MS / BACKOFF_MS - 1, `${repairs} repairs first`);
      t.ep.failures.length = 0;
      await t.chain.close(t.ctx, conn);
    });

    it('is found by the liveness check, every interval on the context clock', async () => {
      let alive = true;
      const t = setup({ alive: () => alive });
      const conn = await t.chain.request(t.ctx, t.req);
      await t.clock.advanceAsync(3 * LIVENESS_INTERVAL_MS);
      assert.equal(t.checks(), 3);
      assert.equal(t.ep.requests().length, 1);
      alive = false;
      await t.clock.advanceAsync(LIVENESS_INTERVAL_MS);
      assert.equal(t.ep.requests().length, 1, 'it waits for word from the path first');
      await t.clock.advanceAsync(LIVENESS_GRACE_MS);
      await eventually(() => assert.equal(t.ep.requests().length, 3));
      assert.deepEqual(
        t.ep.requests().map((s) => s.state),
        [State.UP, State.UP, State.RESELECT_REQUESTED],
        'a repair, then a rebuild',
      );
      await t.chain.close(t.ctx, conn);
    });

    it('reselects without a repair when the path asks for it within the grace after a failed check', async () => {
      // An endpoint's death: the client's interface goes at once, its forwarder's request follows.
      let alive = true;
      const t = setup({ alive: () => alive });
      const conn = await t.chain.request(t.ctx, t.req);
      alive = false;
      await t.clock.advanceAsync(LIVENESS_INTERVAL_MS);
      await t.clock.advanceAsync(LIVENESS_GRACE_MS / 2);
      askReselect(t.pool.live()[0]);
      await eventually(() => assert.equal(t.ep.requests().length, 2));
      await t.clock.advanceAsync(LIVENESS_GRACE_MS);
      assert.deepEqual(t.ep.seen.slice(1), [
        { op: 'close', nse: 'nse-1' },
        { op: 'request', state: State.RESELECT_REQUESTED, nse: '' },
      ]);
      await t.chain.close(t.ctx, conn);
    });

    it('does not heal again when a check that a heal overtook answers late', async () => {
      for (const how of ['repair', 'reselect'] as const) {
        // The first periodic check waits on the path (a dead one takes the whole timeout); every
        // later check finds the data plane alive.
        let late: ((alive: boolean) => void) | undefined;
        const t = setup({
          check: () => (late ? Promise.resolve(true) : new Promise((resolve) => (late = resolve))),
        });
        const conn = await t.chain.request(t.ctx, t.req);
        await t.clock.advanceAsync(LIVENESS_INTERVAL_MS);
        await eventually(() => assert.ok(late, 'a check is waiting'));
        if (how === 'repair') t.pool.live()[0].onEnd(died());
        else askReselect(t.pool.live()[0]);
        await eventually(() => assert.equal(t.ep.requests().length, 2, `the ${how} went through`));
        await eventually(() => assert.equal(t.pool.live().length, 1, 'healed: watching again'));
        late!(false); // it speaks of the path the heal replaced
        await t.clock.advanceAsync(BACKOFF_MS);
        await new Promise((r) => setImmediate(r));
        assert.equal(t.ep.requests().length, 2, `no second heal after the ${how}`);
        await t.chain.close(t.ctx, conn);
      }
    });

    it('keeps trying until it succeeds', async () => {
      // Dead until the fifth heal attempt (the sixth request) brings it back.
      const t = setup({ alive: () => t.ep.requests().length >= 6 });
      const conn = await t.chain.request(t.ctx, t.req);
      t.ep.failures.push(died(), died(), died(), died());
      t.pool.live()[0].onEnd(died());
      for (let i = 0; i < 5; i++) await t.clock.advanceAsync(BACKOFF_MS);
      await eventually(() => assert.equal(t.ep.requests().length, 6));
      await t.clock.advanceAsync(10 * BACKOFF_MS);
      assert.equal(t.ep.requests().length, 6, 'stops once healed');
      await t.chain.close(t.ctx, conn);
    });
  });

  it('treats a failure as a dead data plane when there is no liveness check', async () => {
    const t = setup({ livenessCheck: false });
    const conn = await t.chain.request(t.ctx, t.req);
    t.ep.failures.push(new NsmError(status.INTERNAL, 'refused'));
    t.pool.live()[0].onEnd(died());
    await eventually(() => assert.equal(t.ep.requests().length, 3));
    assert.deepEqual(
      t.ep.requests().map((s) => s.state),
      [State.UP, State.UP, State.RESELECT_REQUESTED],
      'repair first, then rebuild',
    );
    await t.chain.close(t.ctx, conn);
  });

  it('stops healing when the client closes', async () => {
    const t = setup();
    const conn = await t.chain.request(t.ctx, t.req);
    t.ep.failures.push(died(), died(), died());
    t.pool.live()[0].onEnd(died());
    await eventually(() => assert.equal(t.ep.requests().length, 2));
    await t.chain.close(t.ctx, conn);
    await t.clock.advanceAsync(10 * BACKOFF_MS);
    assert.equal(t.ep.requests().length, 2);
    assert.equal(t.clock.pending, 0, 'no timer left on the clock');
  });

  it('stops healing when the client closes while a reselect is failing', async () => {
    const t = setup({ alive: () => false });
    const conn = await t.chain.request(t.ctx, t.req);
    t.ep.failures.push(new NsmError(status.INTERNAL, 'refused'), died(), died());
    t.pool.live()[0].onEnd(died());
    // The repair is refused, the rebuild fails, the reselect fails at once, then heal waits the
    // backoff before the next reselect.
    await eventually(() => assert.equal(t.ep.requests().length, 4));
    assert.equal(t.clock.pending, 1, 'the backoff timer');
    await t.chain.close(t.ctx, conn);
    assert.equal(t.clock.pending, 0, 'close cancels the wait');
    await t.clock.advanceAsync(10 * BACKOFF_MS);
    assert.equal(t.ep.requests().length, 4);
  });
});
