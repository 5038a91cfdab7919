import assert from 'node:assert/strict';
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { newRegistryChain } from '../../core/next.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { ns, nse } from '../../testing/connections.js';
import { tick } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { newFinder, DEFAULT_FINDER_STALE_MS as STALE, DEFAULT_FINDER_CACHE_TTL_MS as TTL } from './index.js';

/** An endpoint registry whose answers the test changes, counting the finds it is asked. */
function endpointStore() {
  const s = {
    items: [nse('a', { networkServiceNames: ['icmp'] })] as NetworkServiceEndpoint[],
    finds: 0,
    fail: false,
    /** While set, finds wait for it (a registry that is slow to answer). */
    gate: undefined as Promise<void> | undefined,
    registry: undefined as unknown as NseRegistry,
  };
  s.registry = {
    register: async (_c, i) => i,
    async find(_c, _q, sink) {
      s.finds++;
      await s.gate;
      if (s.fail) throw new Error('registry unreachable');
      for (const i of s.items) sink({ networkServiceEndpoint: i, deleted: false });
    },
    unregister: async () => {},
  };
  return s;
}

const noServices: NsRegistry = {
  register: async (_c, i) => i,
  find: async () => {},
  unregister: async () => {},
};

describe('discover finder cache', () => {
  verifyNoLeaks();

  function setup() {
    const clock = new FakeClock();
    const store = endpointStore();
    const finder = newFinder(newRegistryChain(noServices), newRegistryChain(store.registry));
    const ctx = fakeContext(clock);
    const names = async () =>
      (await finder.endpoints(ctx, { networkServiceNames: ['icmp'] })).map((e) => e.name);
    return { clock, store, finder, ctx, names };
  }

  it('answers an old answer at once while it asks the registry again, then the new one', async () => {
    const t = setup();
    assert.deepEqual(await t.names(), ['a']);
    t.store.items = [nse('b', { networkServiceNames: ['icmp'] })];
    t.clock.advance(TTL);
    let release = () => {};
    t.store.gate = new Promise((r) => {
      release = r;
    });
    assert.deepEqual(await t.names(), ['a'], 'not waiting for the registry');
    assert.deepEqual(await t.names(), ['a'], 'one question in flight is enough');
    assert.equal(t.store.finds, 2);
    release();
    await tick();
    assert.deepEqual(await t.names(), ['b']);
    assert.equal(t.store.finds, 2, 'the new answer is fresh for another TTL');
    assert.equal(t.clock.pending, 0, 'the refresh budget is released');
  });

  it('waits for the registry once an answer is older than its TTL and the stale time', async () => {
    const t = setup();
    await t.names();
    t.store.items = [nse('b', { networkServiceNames: ['icmp'] })];
    t.clock.advance(TTL + STALE);
    assert.deepEqual(await t.names(), ['b']);
  });

  it('forgets an answer whose refresh failed: the next caller asks and sees the failure', async () => {
    const t = setup();
    await t.names();
    t.store.fail = true;
    t.clock.advance(TTL);
    assert.deepEqual(await t.names(), ['a']);
    await tick();
    await assert.rejects(t.names(), /registry unreachable/);
    assert.equal(t.store.finds, 3);
  });

  it('forgets an answer whose refresh found nothing (an empty answer is never kept)', async () => {
    const t = setup();
    await t.names();
    t.store.items = [];
    t.clock.advance(TTL);
    assert.deepEqual(await t.names(), ['a']);
    await tick();
    assert.deepEqual(await t.names(), []);
    assert.equal(t.store.finds, 3);
  });

  it('asks the registry at once for a fresh answer (a reselect), and keeps it', async () => {
    const t = setup();
    await t.names();
    t.store.items = [nse('b', { networkServiceNames: ['icmp'] })];
    const fresh = await t.finder.endpoints(t.ctx, { networkServiceNames: ['icmp'] }, { fresh: true });
    assert.deepEqual(
      fresh.map((e) => e.name),
      ['b'],
    );
    assert.deepEqual(await t.names(), ['b'], 'and keeps it');
  });

  it('serves network services the same way', async () => {
    const clock = new FakeClock();
    let payload = 'IP';
    let finds = 0;
    const services: NsRegistry = {
      register: async (_c, i) => i,
      async find(_c, _q, sink) {
        finds++;
        sink({ networkService: ns('dyn', { payload }), deleted: false });
      },
      unregister: async () => {},
    };
    const f = newFinder(newRegistryChain(services), newRegistryChain(endpointStore().registry));
    const ctx = fakeContext(clock);
    assert.equal((await f.networkService(ctx, 'dyn'))?.payload, 'IP');
    payload = 'ETHERNET';
    clock.advance(TTL);
    assert.equal((await f.networkService(ctx, 'dyn'))?.payload, 'IP');
    await tick();
    assert.equal((await f.networkService(ctx, 'dyn'))?.payload, 'ETHERNET');
    assert.equal(finds, 2);
  });
});
