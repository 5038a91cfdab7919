import assert from 'node:assert/strict';
import { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import { newRegistryChain } from '../../core/next.js';
import type { NseRegistry } from '../../core/types.js';
import { eventually } from '../testing.js';
import * as begin from './index.js';

const nse = (name: string) => NetworkServiceEndpoint.fromPartial({ name });

/** Records calls; a register of a name listed in `hold` waits until `open(name)`. */
function recorder() {
  const log: string[] = [];
  const gates = new Map<string, () => void>();
  const held = new Set<string>();
  const el: NseRegistry = {
    async register(_c, item) {
      log.push(`register ${item.name} start`);
      if (held.has(item.name)) await new Promise<void>((r) => gates.set(item.name, r));
      log.push(`register ${item.name} end`);
      return item;
    },
    find: async () => {},
    async unregister(_c, item) {
      log.push(`unregister ${item.name}`);
    },
  };
  return { el, log, hold: (n: string) => held.add(n), open: (n: string) => gates.get(n)?.() };
}

describe('registry begin', () => {
  it('runs calls for one name one at a time, in order', async () => {
    const r = recorder();
    const chain = newRegistryChain(begin.newNseServer(), r.el);
    r.hold('a');
    const reg = chain.register(background(), nse('a'));
    const unreg = chain.unregister(background(), nse('a'));
    await eventually(() => assert.deepEqual(r.log, ['register a start']));
    r.open('a');
    await Promise.all([reg, unreg]);
    assert.deepEqual(r.log, ['register a start', 'register a end', 'unregister a']);
  });

  it('does not hold back other names', async () => {
    const r = recorder();
    const chain = newRegistryChain(begin.newNseServer(), r.el);
    r.hold('a');
    const reg = chain.register(background(), nse('a'));
    await chain.register(background(), nse('b'));
    assert.deepEqual(r.log, ['register a start', 'register b start', 'register b end']);
    r.open('a');
    await reg;
  });

  it('keeps serving a name after a failed call', async () => {
    let fail = true;
    const flaky: NseRegistry = {
      async register(_c, item) {
        if (fail) throw new Error('boom');
        return item;
      },
      find: async () => {},
      unregister: async () => {},
    };
    const chain = newRegistryChain(begin.newNseServer(), flaky);
    await assert.rejects(chain.register(background(), nse('a')), /boom/);
    fail = false;
    assert.equal((await chain.register(background(), nse('a'))).name, 'a');
  });

  it('gives later elements an event factory that re-enters after begin with a fresh context', async () => {
    const r = recorder();
    let factory: begin.EventFactory<NetworkServiceEndpoint> | undefined;
    const grab: NseRegistry = {
      register(c, item) {
        factory = begin.fromContext(c);
        return r.el.register(c, item);
      },
      find: async () => {},
      unregister: (c, item) => r.el.unregister(c, item),
    };
    const ac = new AbortController();
    const chain = newRegistryChain(begin.newNseServer(), grab);
    await chain.register({ ...background(), signal: ac.signal }, nse('a'));
    ac.abort(); // the caller is gone; the event still runs
    await factory?.unregister(nse('a'));
    assert.deepEqual(r.log, ['register a start', 'register a end', 'unregister a']);
  });
});
