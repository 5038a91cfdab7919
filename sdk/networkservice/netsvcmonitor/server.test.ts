import assert from 'node:assert/strict';
import {
  Connection,
  type ConnectionEvent,
  ConnectionEventType,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain, newRegistryChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import * as memory from '../../registry/memory/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { ns, nse, request } from '../../testing/connections.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { ConnectionMonitor } from '../monitor/index.js';
import { EVALUATE_DELAY_MS, newNetSvcMonitor, WATCH_LINGER_MS } from './index.js';

const service = (version: string) =>
  ns('dyn', { matches: [{ routes: [{ destinationSelector: { version } }] }] });
const endpoint = (name: string, version: string) =>
  nse(name, { networkServiceNames: ['dyn'], networkServiceLabels: { dyn: { labels: { version } } } });

/** Stands for the forwarder: answers with endpoint `a` and records the connection in the monitor. */
function forwarder(m: ConnectionMonitor): NetworkServiceElement {
  return {
    async request(_ctx, req) {
      const conn = Connection.fromPartial({ ...req.connection!, networkServiceEndpointName: 'a' });
      m.update(conn);
      return conn;
    },
    close: async (_ctx, conn) => m.delete(conn),
  };
}

/** The same registry, counting its finds (each watch the monitor opens starts with one). */
function counting<R extends object>(r: R, finds: { count: number }): R {
  return new Proxy(r, {
    get(target, prop) {
      const v = Reflect.get(target, prop);
      if (typeof v !== 'function') return v;
      return (...args: unknown[]) => {
        if (prop === 'find') finds.count++;
        return v.apply(target, args);
      };
    },
  });
}

/** From now on, how many registry lists the monitor started. */
function countFinds(t: { finds: { count: number } }): { count: number } {
  t.finds.count = 0;
  return t.finds;
}

describe('netsvcmonitor server', () => {
  verifyNoLeaks();

  async function setup() {
    const clock = new FakeClock();
    const nsReg = newRegistryChain(memory.newNsServer());
    const nseReg = newRegistryChain(memory.newNseServer());
    await nsReg.register(background(), service('a'));
    await nseReg.register(background(), endpoint('a', 'a'));
    await nseReg.register(background(), endpoint('b', 'b'));
    const m = new ConnectionMonitor();
    const finds = { count: 0 };
    const netsvc = newNetSvcMonitor({
      ns: counting(nsReg, finds),
      nse: counting(nseReg, finds),
      monitor: m,
      clock,
    });
    const chain = newNetworkServiceChain(netsvc.server, forwarder(m));
    const asked: string[] = [];
    const stop = m.subscribe({ pathSegments: [], networkServices: [] }, (ev: ConnectionEvent) => {
      if (ev.type !== ConnectionEventType.UPDATE) return;
      for (const c of Object.values(ev.connections))
        if (c.state === State.RESELECT_REQUESTED) asked.push(c.id);
    });
    const ctx = fakeContext(clock);
    const conn = await chain.request(ctx, request({ id: 'c1', networkService: 'dyn' }));
    const settle = async () => {
      await clock.advanceAsync(EVALUATE_DELAY_MS);
      await clock.advanceAsync(0);
    };
    await settle();
    return { clock, nsReg, nseReg, m, netsvc, chain, ctx, conn, asked, stop, settle, finds };
  }

  it('requires the registries and the monitor', () => {
    assert.throws(() => newNetSvcMonitor({} as never), /opts.ns, opts.nse and opts.monitor are required/);
  });

  it('asks the client to reselect, once, when the service is applied again selecting other labels', async () => {
    const t = await setup();
    assert.deepEqual(t.asked, [], 'nothing while the endpoint matches');
    await t.nsReg.register(background(), service('b'));
    await t.settle();
    assert.deepEqual(t.asked, ['c1']);
    await t.nsReg.register(background(), service('c'));
    await t.settle();
    assert.deepEqual(t.asked, ['c1'], 'one request per Request: the reselect brings a new record');
    t.stop();
    await t.chain.close(t.ctx, t.conn);
    await t.netsvc.close();
  });

  it('asks the client to reselect when its endpoint registers again with other labels', async () => {
    const t = await setup();
    await t.nseReg.register(background(), endpoint('a', 'retired'));
    await t.settle();
    assert.deepEqual(t.asked, ['c1']);
    t.stop();
    await t.chain.close(t.ctx, t.conn);
    await t.netsvc.close();
  });

  it('leaves a connection alone when its endpoint is unregistered (heal handles a dead endpoint)', async () => {
    const t = await setup();
    await t.nseReg.unregister(background(), endpoint('a', 'a'));
    await t.nsReg.register(background(), service('b'));
    await t.settle();
    assert.deepEqual(t.asked, []);
    t.stop();
    await t.chain.close(t.ctx, t.conn);
    await t.netsvc.close();
  });

  it('forgets a closed connection and stops watching the registries a while later', async () => {
    const t = await setup();
    const finds = countFinds(t);
    await t.chain.close(t.ctx, t.conn);
    await t.nsReg.register(background(), service('b'));
    await t.settle();
    assert.deepEqual(t.asked, []);
    assert.equal(t.clock.pending, 1, 'only the linger timer');
    await t.clock.advanceAsync(WATCH_LINGER_MS);
    assert.equal(t.clock.pending, 0, 'no timers left');
    // A connection after that lists the registries again.
    const again = await t.chain.request(t.ctx, request({ id: 'c2', networkService: 'dyn' }));
    await t.settle();
    assert.equal(finds.count, 2);
    await t.chain.close(t.ctx, again);
    t.stop();
    await t.netsvc.close();
    assert.equal(t.clock.pending, 0);
  });

  it('keeps its watches for connections that come one after another', async () => {
    const t = await setup();
    const finds = countFinds(t);
    await t.chain.close(t.ctx, t.conn);
    await t.clock.advanceAsync(WATCH_LINGER_MS / 2);
    const next = await t.chain.request(t.ctx, request({ id: 'c2', networkService: 'dyn' }));
    await t.settle();
    assert.equal(finds.count, 0, 'no new list of the registries');
    // Still watching: a change moves the new connection.
    await t.nsReg.register(background(), service('b'));
    await t.settle();
    assert.deepEqual(t.asked, ['c2']);
    await t.clock.advanceAsync(WATCH_LINGER_MS);
    await t.chain.close(t.ctx, next);
    t.stop();
    await t.netsvc.close();
    assert.equal(t.clock.pending, 0);
  });
});
