import assert from 'node:assert/strict';
import { Connection, State } from '../../../api/gen/networkservice/connection.js';
import { background } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { pathOf, request } from '../../testing/connections.js';
import { eventually, tick } from '../../testing/eventually.js';
import { gate, injectError } from '../../testing/inject.js';
import * as begin from './index.js';
import { answering, grab, kernel, trackEventTimers } from './testing.js';

/**
 * A Close whose path ends at the caller's segment: the caller never learnt our id, so updatepath
 * made up a new one ('made-up') for our segment.
 */
function closeFromCallerSegment(name: string, id: string) {
  return request({
    id: 'made-up',
    path: {
      index: 1,
      pathSegments: [
        { name, id },
        { name: 'nsmgr', id: 'made-up' },
      ],
    },
  }).connection!;
}

describe('begin server', () => {
  trackEventTimers();

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

  it("keeps the caller's mark that a reselect follows its Close (state RESELECT_REQUESTED), and only that", async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(begin.newServer(), rec, answering());
    for (const [id, state] of [
      ['a', State.RESELECT_REQUESTED],
      ['b', State.DOWN],
    ] as const) {
      await chain.request(background(), request({ id, state: State.UP }));
      await chain.close(background(), { ...request({ id }).connection!, state });
      assert.equal(rec.calls.at(-1)?.conn?.state, state === State.DOWN ? State.UP : state, id);
    }
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
    const truncated = closeFromCallerSegment('nsc', 'nsc-id-0');
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
    const foreign = closeFromCallerSegment('nsc', 'someone-else');
    await chain.close(background(), foreign);
    assert.equal(rec.calls.at(-1)?.conn?.id, 'made-up', 'passed through as the caller sent it');
  });

  it('makes a Close with only the caller segment, sent while the Request is still set up, wait and undo it', async () => {
    // A caller that gave up closes before it learnt our id: the late success must not stay behind.
    const g = gate();
    const rec = recorder();
    const b = begin.newServer();
    const chain = newNetworkServiceChain(b, g, rec, answering());
    const setting = chain.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    await eventually(() => assert.equal(g.waiting, 1));
    const gaveUp = closeFromCallerSegment('nsc', 'nsc-id-0');
    const closing = chain.close(background(), gaveUp);
    await tick();
    assert.equal(rec.calls.length, 0, 'the Close waits for the Request');
    g.release();
    await Promise.all([setting, closing]);
    assert.deepEqual(
      rec.calls.map((c) => `${c.op} ${c.conn?.id ?? c.request?.connection?.id}`),
      ['request nsmgr-id-1', 'close nsmgr-id-1'],
    );
    await eventually(() => assert.equal(b.size, 0));
  });

  it('passes a Close through when the Request it raced failed', async () => {
    const g = gate();
    const rec = recorder();
    const b = begin.newServer();
    const chain = newNetworkServiceChain(b, g, injectError(), rec);
    const setting = chain.request(background(), request(pathOf(['nsc', 'nsmgr'])));
    await eventually(() => assert.equal(g.waiting, 1));
    const gaveUp = closeFromCallerSegment('nsc', 'nsc-id-0');
    const closing = chain.close(background(), gaveUp);
    g.release();
    await assert.rejects(setting);
    await closing;
    assert.equal(rec.calls.at(-1)?.conn?.id, 'made-up', 'nothing was set up: passed through as sent');
    await eventually(() => assert.equal(b.size, 0));
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
});
