import assert from 'node:assert/strict';
import {
  Connection,
  type ConnectionEvent,
  ConnectionEventType,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { request } from '../../testing/connections.js';
import { eventually } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { cappedDoubling } from '../../tools/backoff/index.js';
import { withClientURL } from '../clienturl/index.js';
import { ConnectionMonitor, newRelay, STREAM_LINGER_MS } from './index.js';

const NEXT_HOP = 'unix:///run/nsm/forwarder.sock';

interface FakeStream {
  onEvent: (ev: ConnectionEvent) => void;
  onEnd: (err: Error) => void;
  cancelled: boolean;
}

function fakePool() {
  const streams: FakeStream[] = [];
  return {
    streams,
    live: () => streams.filter((s) => !s.cancelled),
    monitor(_url: string, _sel: unknown, onEvent: FakeStream['onEvent'], onEnd: FakeStream['onEnd']) {
      // An ended stream is over, like a cancelled one.
      const s: FakeStream = {
        onEvent,
        onEnd: (err) => {
          s.cancelled = true;
          onEnd(err);
        },
        cancelled: false,
      };
      streams.push(s);
      return {
        close: async () => {
          s.cancelled = true;
        },
      };
    },
  };
}

/** Our hop is index 1; the next hop's segment (index 2) has id `<id>-down`. */
const ours = (id: string) =>
  request({
    id,
    path: { index: 1, pathSegments: [{ id: `${id}-up` }, { id }, { id: `${id}-down` }] },
  });

/** Stands for monitor.newServer: keeps the monitor's view of what passed. */
/** The states connection `id` is updated with on the monitor, from now until stop(). */
function statesOf(m: ConnectionMonitor, id: string) {
  const states: State[] = [];
  const stop = m.subscribe({ pathSegments: [], networkServices: [] }, (ev) => {
    const c = ev.connections[id];
    if (ev.type === ConnectionEventType.UPDATE && c) states.push(c.state);
  });
  return { states, stop };
}

/** Every UPDATE event from now until stop(), as "id:STATE,id:STATE" (one string per event). */
function updatesOf(m: ConnectionMonitor) {
  const events: string[] = [];
  const stop = m.subscribe({ pathSegments: [], networkServices: [] }, (ev) => {
    if (ev.type !== ConnectionEventType.UPDATE) return;
    events.push(
      Object.values(ev.connections)
        .map((c) => `${c.id}:${State[c.state]}`)
        .join(','),
    );
  });
  return { events, stop };
}

function recordIn(m: ConnectionMonitor): NetworkServiceElement {
  return {
    async request(_ctx, req) {
      const conn = Connection.fromPartial(req.connection!);
      m.update(conn);
      return conn;
    },
    close: async () => {},
  };
}

describe('monitor relay', () => {
  verifyNoLeaks();

  function setup(opts: Parameters<typeof newRelay>[2] = {}) {
    const clock = new FakeClock();
    const pool = fakePool();
    const m = new ConnectionMonitor();
    const relay = newRelay(m, pool, { backoff: cappedDoubling({ initialMs: 100, maxMs: 400 }), ...opts });
    const chain = newNetworkServiceChain(relay.server, recordIn(m));
    const ctx = withClientURL(fakeContext(clock), NEXT_HOP);
    return { clock, pool, m, relay, chain, ctx };
  }

  it('marks every connection through a broken stream DOWN and reconnects with a capped backoff', async () => {
    const t = setup();
    await t.chain.request(t.ctx, ours('a'));
    await t.chain.request(t.ctx, ours('b'));
    assert.equal(t.pool.streams.length, 1, 'one stream per next hop');
    t.pool.live()[0].onEnd(new Error('forwarder died'));
    assert.equal(t.m.get('a')?.state, State.DOWN);
    assert.equal(t.m.get('b')?.state, State.DOWN);
    // 100, 200, 400, 400 ms between attempts on the context clock.
    for (const [i, ms] of [100, 200, 400, 400].entries()) {
      t.clock.advance(ms - 1);
      assert.equal(t.pool.streams.length, i + 1, `attempt ${i + 2} not before ${ms} ms`);
      t.clock.advance(1);
      assert.equal(t.pool.streams.length, i + 2);
      if (i < 3) t.pool.streams.at(-1)!.onEnd(new Error('still down'));
    }
    await t.relay.close();
    assert.equal(t.clock.pending, 0);
  });

  it('after a reconnect, marks DOWN what the next hop no longer knows and resets the backoff', async () => {
    const t = setup();
    await t.chain.request(t.ctx, ours('a'));
    await t.chain.request(t.ctx, ours('b'));
    const first = t.pool.live()[0];
    first.onEvent({ type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: {} });
    first.onEnd(new Error('restart'));
    await t.chain.request(t.ctx, ours('a')); // a is healed meanwhile: UP again
    await t.chain.request(t.ctx, ours('b'));
    t.clock.advance(100);
    const second = t.pool.streams[1];
    second.onEvent({
      type: ConnectionEventType.INITIAL_STATE_TRANSFER,
      connections: { 'a-down': Connection.fromPartial({ id: 'a-down' }) },
    });
    assert.equal(t.m.get('a')?.state, State.UP);
    assert.equal(t.m.get('b')?.state, State.DOWN, 'b was lost by the restarted hop');
    second.onEnd(new Error('again'));
    t.clock.advance(100);
    assert.equal(t.pool.streams.length, 3, 'an event reset the backoff to its first delay');
    await t.relay.close();
  });

  it('marks a connection DOWN when the next hop reports it down or deleted', async () => {
    const t = setup();
    await t.chain.request(t.ctx, ours('a'));
    await t.chain.request(t.ctx, ours('b'));
    const s = t.pool.live()[0];
    s.onEvent({
      type: ConnectionEventType.UPDATE,
      connections: { 'a-down': Connection.fromPartial({ id: 'a-down', state: State.DOWN }) },
    });
    s.onEvent({
      type: ConnectionEventType.DELETE,
      connections: { 'b-down': Connection.fromPartial({ id: 'b-down' }) },
    });
    assert.equal(t.m.get('a')?.state, State.DOWN);
    assert.equal(t.m.get('b')?.state, State.DOWN);
    await t.relay.close();
  });

  it('passes a reselect request of the next hop on, keeping the connection UP, and says which connection', async () => {
    const told: string[] = [];
    const t = setup({ onReselectRequested: (conn) => told.push(conn.id) });
    await t.chain.request(t.ctx, ours('a'));
    const seen: ConnectionEvent[] = [];
    const stop = t.m.subscribe({ pathSegments: [], networkServices: [] }, (ev) => seen.push(ev));
    await Promise.resolve();
    t.pool.live()[0].onEvent({
      type: ConnectionEventType.UPDATE,
      connections: { 'a-down': Connection.fromPartial({ id: 'a-down', state: State.RESELECT_REQUESTED }) },
    });
    stop();
    const asked = seen.filter((ev) => ev.type === ConnectionEventType.UPDATE);
    assert.equal(asked.length, 1);
    assert.equal(asked[0].connections.a?.state, State.RESELECT_REQUESTED);
    assert.notEqual(t.m.get('a')?.state, State.RESELECT_REQUESTED, 'a request, not a state change');
    assert.deepEqual(told, ['a']);
    await t.relay.close();
  });

  it('asks for a reselect instead of publishing DOWN when the endpoint behind a broken stream is gone', async () => {
    for (const gone of [true, false]) {
      const clock = new FakeClock();
      const pool = fakePool();
      const m = new ConnectionMonitor();
      const probed: string[] = [];
      const relay = newRelay(m, pool, {
        backoff: cappedDoubling({ initialMs: 100, maxMs: 400 }),
        endpointGone: async (url) => {
          probed.push(url);
          return gone;
        },
      });
      const chain = newNetworkServiceChain(relay.server, recordIn(m));
      await chain.request(withClientURL(fakeContext(clock), NEXT_HOP), ours('a'));
      const { states, stop } = statesOf(m, 'a');
      await Promise.resolve();
      pool.live()[0].onEnd(new Error('stream broke'));
      await eventually(() => assert.equal(m.get('a')?.state, State.DOWN));
      // The reconnect fails too: the connection is down already, and the reselect was asked for
      // once, so nothing more goes up (each repeat used to cross every hop to the clients).
      clock.advance(100);
      pool.live()[0].onEnd(new Error('still refused'));
      await eventually(() => assert.equal(probed.length, 2));
      await new Promise((r) => setImmediate(r));
      stop();
      // After a reselect request the DOWN is kept, not published (monitor.downMany).
      assert.deepEqual(states, gone ? [State.RESELECT_REQUESTED] : [State.DOWN]);
      await relay.close();
    }
  });

  it('only marks DOWN when the endpoint is gone but no other endpoint could take the connection', async () => {
    const clock = new FakeClock();
    const pool = fakePool();
    const m = new ConnectionMonitor();
    const asked: string[] = [];
    const relay = newRelay(m, pool, {
      endpointGone: async () => true,
      canReselect: async (conn) => {
        asked.push(conn.id);
        return false;
      },
    });
    const chain = newNetworkServiceChain(relay.server, recordIn(m));
    await chain.request(withClientURL(fakeContext(clock), NEXT_HOP), ours('a'));
    const { states, stop } = statesOf(m, 'a');
    await Promise.resolve();
    pool.live()[0].onEnd(new Error('stream broke'));
    await eventually(() => assert.equal(states.at(-1), State.DOWN));
    stop();
    assert.deepEqual(asked, ['a']);
    assert.deepEqual(states, [State.DOWN], 'no RESELECT_REQUESTED: the connection stays for the repair');
    await relay.close();
  });

  it('asks once per service, not once per connection, when an endpoint holding many connections is gone', async () => {
    const clock = new FakeClock();
    const pool = fakePool();
    const m = new ConnectionMonitor();
    const asked: string[] = [];
    let answer!: (yes: boolean) => void;
    const relay = newRelay(m, pool, {
      endpointGone: async () => true,
      canReselect: (conn) => {
        asked.push(conn.id);
        return new Promise((resolve) => {
          answer = resolve;
        });
      },
    });
    const chain = newNetworkServiceChain(relay.server, recordIn(m));
    const ids = ['a', 'b', 'c'];
    for (const id of ids) await chain.request(withClientURL(fakeContext(clock), NEXT_HOP), ours(id));
    const watched = ids.map((id) => statesOf(m, id));
    const { events, stop: stopAll } = updatesOf(m);
    await Promise.resolve();
    pool.live()[0].onEnd(new Error('stream broke'));
    await eventually(() => assert.equal(asked.length, 1));
    answer(true);
    await eventually(() => assert.ok(ids.every((id) => m.get(id)?.state === State.DOWN)));
    for (const w of watched) {
      w.stop();
      assert.deepEqual(w.states, [State.RESELECT_REQUESTED]);
    }
    stopAll();
    assert.equal(asked.length, 1, 'one question for the three connections of one service');
    assert.deepEqual(
      events,
      ['a:RESELECT_REQUESTED,b:RESELECT_REQUESTED,c:RESELECT_REQUESTED'],
      'one event for all three',
    );
    await relay.close();
  });

  it('passes an event about many connections on as one event', async () => {
    const t = setup();
    const ids = ['a', 'b', 'c', 'd'];
    for (const id of ids) await t.chain.request(t.ctx, ours(id));
    const { events, stop } = updatesOf(t.m);
    await Promise.resolve();
    const next = (which: string[], state: State) => ({
      type: ConnectionEventType.UPDATE,
      connections: Object.fromEntries(
        which.map((id) => [`${id}-down`, Connection.fromPartial({ id: `${id}-down`, state })]),
      ),
    });
    t.pool.live()[0].onEvent(next(['a', 'b'], State.RESELECT_REQUESTED));
    t.pool.live()[0].onEvent(next(ids, State.DOWN)); // a and b are choosing another path: not passed on
    t.pool.live()[0].onEvent(next(ids, State.DOWN)); // nothing changed: not passed on
    stop();
    assert.deepEqual(events, ['a:RESELECT_REQUESTED,b:RESELECT_REQUESTED', 'c:DOWN,d:DOWN']);
    await t.relay.close();
  });

  it('stops watching a while after the last connection through the hop is closed', async () => {
    const t = setup();
    const conn = await t.chain.request(t.ctx, ours('a'));
    await t.chain.close(t.ctx, conn);
    assert.equal(t.pool.live().length, 1, 'kept for the next connection');
    t.clock.advance(STREAM_LINGER_MS - 1);
    assert.equal(t.pool.live().length, 1);
    t.clock.advance(1);
    assert.equal(t.pool.live().length, 0);
    assert.equal(t.clock.pending, 0);
  });

  it('serves connections that come one after another with one stream', async () => {
    const t = setup();
    for (const id of ['a', 'b', 'c']) {
      const conn = await t.chain.request(t.ctx, ours(id));
      await t.chain.close(t.ctx, conn);
      t.clock.advance(STREAM_LINGER_MS / 2);
    }
    assert.equal(t.pool.streams.length, 1);
    // The stream still works for the next one: trouble reported there reaches it.
    await t.chain.request(t.ctx, ours('d'));
    t.pool.live()[0].onEvent({
      type: ConnectionEventType.UPDATE,
      connections: { 'd-down': Connection.fromPartial({ id: 'd-down', state: State.DOWN }) },
    });
    assert.equal(t.m.get('d')?.state, State.DOWN);
    await t.relay.close();
    assert.equal(t.pool.live().length, 0);
    assert.equal(t.clock.pending, 0, 'close ends the linger too');
  });

  it('does not report a connection lost when a lingering stream breaks', async () => {
    const t = setup();
    const conn = await t.chain.request(t.ctx, ours('a'));
    await t.chain.close(t.ctx, conn);
    const states = statesOf(t.m, 'a');
    t.pool.live()[0].onEnd(new Error('forwarder restarted'));
    assert.deepEqual(states.states, []);
    states.stop();
    await t.chain.request(t.ctx, ours('b'));
    assert.equal(t.pool.live().length, 1, 'a new stream for the next connection');
    await t.relay.close();
    assert.equal(t.clock.pending, 0);
  });
});
