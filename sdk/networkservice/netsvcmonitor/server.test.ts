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
import { EVALUATE_DELAY_MS, newNetSvcMonitor } from './index.js';

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
    const netsvc = newNetSvcMonitor({ ns: nsReg, nse: nseReg, monitor: m, clock });
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
    return { clock, nsReg, nseReg, m, netsvc, chain, ctx, conn, asked, stop, settle };
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

  it('forgets a closed connection and stops watching the registries', async () => {
    const t = await setup();
    await t.chain.close(t.ctx, t.conn);
    await t.nsReg.register(background(), service('b'));
    await t.settle();
    assert.deepEqual(t.asked, []);
    assert.equal(t.clock.pending, 0, 'no timers left');
    t.stop();
    await t.netsvc.close();
  });
});
