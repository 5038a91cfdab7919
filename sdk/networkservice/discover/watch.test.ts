import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newRegistryChain } from '../../core/next.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';
import * as memory from '../../registry/memory/index.js';
import { ns, nse } from '../../testing/connections.js';
import { eventually } from '../../testing/eventually.js';
import { verifyNoLeaks } from '../../testing/leaks.js';
import { newWatchingFinder } from './index.js';

/** Counts the one-shot (non-watch) Finds that reach the store. */
function counted<R extends NsRegistry | NseRegistry>(store: R): { reg: R; lists: () => number } {
  let lists = 0;
  const counter = {
    register: (ctx: never, item: never) => next.registry(ctx).register(ctx, item),
    find(ctx: never, query: { watch: boolean }, sink: never) {
      if (!query.watch) lists++;
      return next.registry(ctx).find(ctx, query, sink);
    },
    unregister: (ctx: never, item: never) => next.registry(ctx).unregister(ctx, item),
  };
  return { reg: newRegistryChain(counter as never, store as never) as R, lists: () => lists };
}

describe('discover watching finder', () => {
  verifyNoLeaks();

  async function setup() {
    const nsc = counted<NsRegistry>(memory.newNsServer());
    const nsec = counted<NseRegistry>(memory.newNseServer());
    await nsc.reg.register(background(), ns('dyn', { payload: 'IP' }));
    await nsec.reg.register(background(), nse('a', { networkServiceNames: ['dyn'] }));
    const f = newWatchingFinder(nsc.reg, nsec.reg);
    // The first questions start the watches (and go to the registry while the view is not synced).
    await f.networkService(background(), 'dyn');
    await f.endpoints(background(), { networkServiceNames: ['dyn'] });
    const lists = () => nsc.lists() + nsec.lists();
    await eventually(async () => {
      const before = lists();
      await f.networkService(background(), 'dyn');
      await f.endpoints(background(), { networkServiceNames: ['dyn'] });
      assert.equal(lists(), before, 'answered from the view');
    });
    return { f, nsReg: nsc.reg, nseReg: nsec.reg, lists };
  }

  it('answers from the watched view, asking no registry, and follows changes', async () => {
    const t = await setup();
    const before = t.lists();
    await t.nsReg.register(background(), ns('dyn', { payload: 'ETHERNET' }));
    await t.nseReg.register(background(), nse('b', { networkServiceNames: ['dyn'] }));
    await t.nseReg.unregister(background(), nse('a', { networkServiceNames: ['dyn'] }));
    assert.equal((await t.f.networkService(background(), 'dyn'))?.payload, 'ETHERNET');
    const found = await t.f.endpoints(background(), { networkServiceNames: ['dyn'] });
    assert.deepEqual(
      found.map((e) => e.name),
      ['b'],
    );
    assert.equal(t.lists(), before);
    await t.f.close();
  });

  it('asks the registry for a fresh answer, and when the view has none', async () => {
    const t = await setup();
    const before = t.lists();
    await t.f.networkService(background(), 'dyn', { fresh: true });
    assert.equal(t.lists(), before + 1);
    assert.equal(await t.f.networkService(background(), 'unknown'), undefined);
    assert.equal(t.lists(), before + 2);
    await t.f.close();
  });
});
