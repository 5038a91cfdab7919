import assert from 'node:assert/strict';
import { Connection, State } from '../../../api/gen/networkservice/connection.js';
import { background, withCancel } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { checkContext, recorder } from '../../testing/checks.js';
import { pathOf, request } from '../../testing/connections.js';
import { eventually, tick } from '../../testing/eventually.js';
import { gate, injectError } from '../../testing/inject.js';
import { type TimerTracker, trackTimers } from '../../testing/timers.js';
import * as begin from './index.js';

const kernel = { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } };

/** Grabs the event factory begin puts into the context. */
function grab(): NetworkServiceElement & { factory?: begin.EventFactory } {
  const el: NetworkServiceElement & { factory?: begin.EventFactory } = {
    request(ctx, req) {
      el.factory = begin.fromContext(ctx);
      return next.server(ctx).request(ctx, req);
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
  return el;
}

/** Answers every request with a connection that carries a mechanism and an increasing label. */
function answering(): NetworkServiceElement {
  let n = 0;
  return {
    async request(_ctx, req) {
      n++;
      return Connection.fromPartial({ ...req.connection, mechanism: kernel, labels: { answer: String(n) } });
    },
    close: async () => {},
  };
}

describe('begin server', () => {
  // Events run with a fresh context; the timers they make are tracked so none is left behind.
  let timers: TimerTracker;
  beforeEach(() => {
    timers = trackTimers();
  });
  afterEach(() => {
    timers.restore();
    // BUG (see 'leaves no timer behind after an event'): clear what events leaked so the run ends.
    timers.clearAll();
  });

  it('rejects a request without a connection id', async () => {
    const chain = newNetworkServiceChain(begin.newServer());
    await assert.rejects(chain.request(background(), request({ id: '' })), (e: Error & { code?: number }) => {
      assert.equal(e.code, 3);
      assert.match(e.message, /no connection id/);
      return true;
    });
  });

  it('runs the events of one connection one at a time, in order', async () => {
    const g = gate();
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), g, rec);
    const first = chain.request(background(), request({ id: 'a', labels: { n: '1' } }));
    const second = chain.request(background(), request({ id: 'a', labels: { n: '2' } }));
    const closing = chain.close(background(), request({ id: 'a' }).connection!);
    await eventually(() => assert.equal(g.waiting, 1));
    await tick();
    assert.equal(g.waiting, 1, 'the second request must wait for the first');
    g.release();
    await eventually(() => assert.equal(g.waiting, 1));
    g.release();
    await Promise.all([first, second, closing]);
    assert.deepEqual(
      rec.calls.map((c) => `${c.op} ${c.request?.connection?.labels.n ?? ''}`.trim()),
      ['request 1', 'request 2', 'close'],
    );
  });

  it('does not hold back other connections', async () => {
    const g = gate();
    const chain = newNetworkServiceChain(begin.newServer(), {
      request: (ctx, req) =>
        req.connection!.id === 'slow' ? g.request(ctx, req) : next.server(ctx).request(ctx, req),
      close: (ctx, conn) => next.server(ctx).close(ctx, conn),
    });
    const slow = chain.request(background(), request({ id: 'slow' }));
    await eventually(() => assert.equal(g.waiting, 1));
    const fast = await chain.request(background(), request({ id: 'fast' }));
    assert.equal(fast.id, 'fast');
    assert.equal(g.waiting, 1);
    g.release();
    await slow;
  });

  it('keeps serving a connection after a failed event', async () => {
    const chain = newNetworkServiceChain(begin.newServer(), injectError({ requestTimes: [1] }));
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /injected error/);
    assert.equal((await chain.request(background(), request({ id: 'a' }))).id, 'a');
  });

  it('closes with the last connection the chain returned, whatever path the caller sent', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), rec, answering());
    const held = { index: 0, pathSegments: [{ name: 'nsc', id: 'a', token: 't1', metrics: {} }] };
    await chain.request(background(), request({ id: 'a', path: held }));
    const stale = { index: 0, pathSegments: [{ name: 'nsc', id: 'a', token: 'old', metrics: {} }] };
    await chain.close(background(), request({ id: 'a', path: stale }).connection!);
    const closed = rec.calls.at(-1)!;
    assert.equal(closed.op, 'close');
    assert.deepEqual(closed.conn?.mechanism, kernel);
    assert.equal(closed.conn?.labels.answer, '1');
    assert.equal(closed.conn?.path?.pathSegments[0].token, 't1');
  });

  it('closes the path a reselect made when the caller closes the connection it first got', async () => {
    // The nsc closes what its first Request returned; a heal moved the connection to nse-2 since.
    const rec = recorder();
    const g = grab();
    const chain = newNetworkServiceChain(begin.newServer(), g, rec, {
      request: async (_ctx, req) =>
        Connection.fromPartial({
          ...req.connection,
          networkServiceEndpointName: req.connection?.networkServiceEndpointName || 'nse-2',
          path: {
            index: 0,
            pathSegments: [
              { name: 'nsc', id: 'a' },
              { name: req.connection?.networkServiceEndpointName || 'nse-2', id: 'e' },
            ],
          },
        }),
      close: async () => {},
    });
    const first = await chain.request(
      background(),
      request({ id: 'a', networkServiceEndpointName: 'nse-1' }),
    );
    await g.factory!.request({ reselect: true });
    await chain.close(background(), first);
    const closed = rec.calls.at(-1)!;
    assert.equal(closed.op, 'close');
    assert.equal(closed.conn?.networkServiceEndpointName, 'nse-2');
    assert.deepEqual(
      closed.conn?.path?.pathSegments.map((p) => p.name),
      ['nsc', 'nse-2'],
      'the Close follows the current path, not the stale one',
    );
  });

  it('closes the connection of a caller whose Close carries only the caller segment', async () => {
    // updatepath then adds a fresh segment for us with a new id: begin finds ours by the caller's segment.
    const rec = recorder();
    const b = begin.newServer();
    const chain = newNetworkServiceChain(b, rec, answering());
    await chain.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    await chain.request(background(), request(pathOf(['other', 'hop'])));
    const truncated = request({
      id: 'made-up',
      path: {
        index: 1,
        pathSegments: [
          { name: 'nsc', id: 'nsc-id-0' },
          { name: 'nsmgr', id: 'made-up' },
        ],
      },
    }).connection!;
    await chain.close(background(), truncated);
    const closed = rec.calls.at(-1)!;
    assert.equal(closed.op, 'close');
    assert.equal(closed.conn?.id, 'nsmgr-id-1');
    assert.equal(closed.conn?.labels.answer, '1');
    await eventually(() => assert.equal(b.size, 1)); // the other caller's connection is kept
  });

  it('does not match a truncated Close to a connection of another caller', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), rec, answering());
    await chain.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    const foreign = request({
      id: 'made-up',
      path: {
        index: 1,
        pathSegments: [
          { name: 'nsc', id: 'someone-else' },
          { name: 'nsmgr', id: 'made-up' },
        ],
      },
    }).connection!;
    await chain.close(background(), foreign);
    assert.equal(rec.calls.at(-1)?.conn?.id, 'made-up', 'passed through as the caller sent it');
  });

  it('closes with the last good connection when a refresh failed', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(
      begin.newServer(),
      rec,
      injectError({ requestTimes: [2] }),
      answering(),
    );
    await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(chain.request(background(), request({ id: 'a', labels: { bad: 'yes' } })));
    await chain.close(background(), request({ id: 'a' }).connection!);
    const closed = rec.calls.at(-1)!;
    assert.equal(closed.conn?.labels.answer, '1');
    assert.equal(closed.conn?.labels.bad, undefined);
  });

  it('passes the caller connection through when it has nothing for that id', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), rec);
    await chain.close(background(), request({ id: 'unknown', labels: { from: 'caller' } }).connection!);
    assert.equal(rec.calls[0].conn?.labels.from, 'caller');
  });

  it('forgets a connection once it is closed', async () => {
    const b = begin.newServer();
    const chain = newNetworkServiceChain(b);
    await chain.request(background(), request({ id: 'a' }));
    await chain.request(background(), request({ id: 'b' }));
    assert.equal(b.size, 2);
    await chain.close(background(), request({ id: 'a' }).connection!);
    await eventually(() => assert.equal(b.size, 1));
  });

  it('forgets a connection whose first request failed', async () => {
    const b = begin.newServer();
    const chain = newNetworkServiceChain(b, injectError());
    await assert.rejects(chain.request(background(), request({ id: 'a' })));
    await eventually(() => assert.equal(b.size, 0));
  });

  describe('event factory', () => {
    it('re-requests from right after begin with the last request and connection', async () => {
      const before = recorder();
      const after = recorder();
      const g = grab();
      const chain = newNetworkServiceChain(before, begin.newServer(), g, after, answering());
      await chain.request(background(), request({ id: 'a', labels: { asked: 'yes' } }));
      const conn = await g.factory!.request();
      assert.equal(conn?.labels.answer, '2');
      assert.deepEqual(before.ops(), ['request a'], 'elements before begin are not re-entered');
      assert.deepEqual(after.ops(), ['request a', 'request a']);
      const replayed = after.calls[1].request!;
      assert.equal(replayed.connection?.labels.answer, '1', 'carries the last returned connection');
      assert.deepEqual(replayed.connection?.mechanism, kernel);
    });

    it('runs events with a live context even after the caller went away', async () => {
      const g = grab();
      const aborted: boolean[] = [];
      const chain = newNetworkServiceChain(
        begin.newServer(),
        g,
        checkContext((c) => aborted.push(c.signal.aborted)),
      );
      const caller = withCancel(background());
      await chain.request(caller.ctx, request({ id: 'a' }));
      caller.cancel();
      await g.factory!.request();
      assert.deepEqual(aborted, [false, false]);
    });

    it('waits for the connection events in flight', async () => {
      const g = grab();
      const gt = gate();
      const rec = recorder();
      const chain = newNetworkServiceChain(begin.newServer(), g, rec, gt);
      const first = chain.request(background(), request({ id: 'a' }));
      await eventually(() => assert.equal(gt.waiting, 1));
      const factory = g.factory!;
      gt.release();
      await first;
      const refresh = chain.request(background(), request({ id: 'a', labels: { n: '2' } }));
      const event = factory.request();
      await eventually(() => assert.equal(gt.waiting, 1));
      assert.equal(rec.calls.length, 2, 'the event waits behind the refresh');
      gt.release();
      await refresh;
      await eventually(() => assert.equal(gt.waiting, 1));
      gt.release();
      await event;
      assert.equal(rec.calls[2].request?.connection?.labels.n, '2', 'the event replays the refresh');
    });

    it('reselects: closes the old connection, then requests with mechanism and endpoint cleared', async () => {
      const rec = recorder();
      const g = grab();
      const chain = newNetworkServiceChain(begin.newServer(), g, rec, answering());
      await chain.request(
        background(),
        request({ id: 'a', networkServiceEndpointName: 'nse-1', mechanism: kernel, state: State.UP }),
      );
      await g.factory!.request({ reselect: true });
      assert.deepEqual(rec.ops(), ['request a', 'close a', 'request a']);
      assert.deepEqual(rec.calls[1].conn?.mechanism, kernel, 'closes what was there');
      assert.equal(begin.isReselectClose(rec.calls[1].ctx), true, 'the close is marked as a reselect close');
      assert.ok(begin.fromContext(rec.calls[1].ctx), 'and carries the event factory');
      assert.equal(begin.isReselectClose(rec.calls[2].ctx), false);
      const again = rec.calls[2].request!.connection!;
      assert.equal(again.mechanism, undefined);
      assert.equal(again.networkServiceEndpointName, '');
      assert.equal(again.state, State.RESELECT_REQUESTED);
    });

    it('reselects without the old endpoint addresses, keeping what the client excludes', async () => {
      const rec = recorder();
      const g = grab();
      const chain = newNetworkServiceChain(begin.newServer(), g, rec);
      await chain.request(
        background(),
        request({
          id: 'a',
          context: {
            ipContext: {
              srcIpAddrs: ['10.0.0.1/32'],
              dstIpAddrs: ['10.0.0.2/32'],
              srcRoutes: [{ prefix: '10.0.0.2/32' }],
              dstRoutes: [{ prefix: '10.0.0.1/32' }],
              excludedPrefixes: ['10.96.0.0/12'],
            },
          },
        }),
      );
      await g.factory!.request({ reselect: true });
      const ip = rec.calls[2].request!.connection!.context!.ipContext!;
      assert.deepEqual([ip.srcIpAddrs, ip.dstIpAddrs, ip.srcRoutes, ip.dstRoutes], [[], [], [], []]);
      assert.deepEqual(ip.excludedPrefixes, ['10.96.0.0/12']);
    });

    it('reselects with a custom reselect function', async () => {
      const rec = recorder();
      const g = grab();
      const keepEndpoint = (req: Parameters<NonNullable<begin.BeginOptions['reselect']>>[0]) => {
        req.connection!.mechanism = undefined;
        req.connection!.state = State.RESELECT_REQUESTED;
      };
      const chain = newNetworkServiceChain(begin.newClient({ reselect: keepEndpoint }), g, rec);
      await chain.request(background(), request({ id: 'a', networkServiceEndpointName: 'nse-1' }));
      await g.factory!.request({ reselect: true });
      assert.equal(rec.calls[2].request?.connection?.networkServiceEndpointName, 'nse-1');
    });

    it('still re-requests on reselect when closing the old connection fails', async () => {
      const rec = recorder();
      const g = grab();
      const chain = newNetworkServiceChain(
        begin.newServer(),
        g,
        rec,
        injectError({ requestTimes: [], closeTimes: [1] }),
      );
      await chain.request(background(), request({ id: 'a' }));
      const conn = await g.factory!.request({ reselect: true });
      assert.equal(conn?.id, 'a');
      assert.deepEqual(rec.ops(), ['request a', 'close a', 'request a']);
    });

    it('closes from right after begin, and later events do nothing', async () => {
      const before = recorder();
      const rec = recorder();
      const g = grab();
      const chain = newNetworkServiceChain(before, begin.newServer(), g, rec, answering());
      await chain.request(background(), request({ id: 'a' }));
      const factory = g.factory!;
      await factory.close();
      assert.deepEqual(rec.ops(), ['request a', 'close a']);
      assert.equal(rec.calls[1].conn?.labels.answer, '1');
      assert.equal(begin.isReselectClose(rec.calls[1].ctx), false, 'a plain close is not a reselect close');
      assert.deepEqual(before.ops(), ['request a']);
      assert.equal(await factory.request(), undefined);
      await factory.close();
      assert.deepEqual(rec.ops(), ['request a', 'close a']);
    });

    it('forgets a connection closed by an event', async () => {
      const g = grab();
      const b = begin.newServer();
      const chain = newNetworkServiceChain(b, g);
      await chain.request(background(), request({ id: 'a' }));
      await g.factory!.close();
      await eventually(() => assert.equal(b.size, 0));
    });

    // Regression test for a fixed bug: an event that is queued right after an event-factory close (`await factory.close();
    // factory.request()`, as an element that tears a connection down and then retries would do) keeps
    // begin's per-connection state forever: replayClose's forgetIfIdle sees the queue tail change and
    // keeps the state, and event() never calls forgetIfIdle itself. Fix in
    // sdk/networkservice/begin/server.ts, event():
    //   return this.serial(id, async (s) => (s.closed ? undefined : fn())).finally(() => this.forgetIfIdle(id));
    it('forgets a connection when an event follows its close', async () => {
      const g = grab();
      const b = begin.newServer();
      const chain = newNetworkServiceChain(b, g);
      await chain.request(background(), request({ id: 'a' }));
      const factory = g.factory!;
      await factory.close();
      assert.equal(await factory.request(), undefined);
      await eventually(() => assert.equal(b.size, 0), 500);
    });

    // Regression test for a fixed bug: Begin.eventContext() calls postpone(base)(), which starts a 15 s withTimeout whose cancel
    // is dropped, and then wraps it in a second withTimeout; only the second timer is cleared, so every
    // event leaves a 15 s timer behind (a mocha run without --exit waits for it). Fix in
    // sdk/networkservice/begin/server.ts:
    //   private eventContext(s: ConnectionState) {
    //     return withTimeout({ signal: new AbortController().signal, values: s.values ?? new Map() }, EVENT_TIMEOUT_MS);
    //   }
    // (and drop the unused `postpone` import).
    it('leaves no timer behind after an event', async () => {
      const g = grab();
      const chain = newNetworkServiceChain(begin.newServer(), g);
      await chain.request(background(), request({ id: 'a' }));
      const before = timers.pending();
      await g.factory!.request();
      await g.factory!.close();
      assert.equal(timers.pending(), before);
    });
  });
});
