import assert from 'node:assert/strict';
import {
  NetworkServiceEndpoint,
  type NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import * as next from '../../core/next.js';
import { newRegistryChain } from '../../core/next.js';
import type { NseRegistry } from '../../core/types.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import * as begin from '../begin/index.js';
import * as memory from '../memory/index.js';
import { collect, eventually, never } from '../testing.js';
import * as expire from './index.js';

const PERIOD_MS = 60_000;
const nse = (name: string, extra: Partial<NetworkServiceEndpoint> = {}) =>
  NetworkServiceEndpoint.fromPartial({
    name,
    url: `unix:///${name}.sock`,
    networkServiceNames: ['icmp'],
    ...extra,
  });

function setup(opts: { withBegin?: boolean } = {}) {
  const clock = new FakeClock();
  const ctx = fakeContext(clock);
  const exp = expire.newNseServer({ expirePeriodMs: PERIOD_MS });
  const store = memory.newNseServer();
  const chain: NseRegistry = newRegistryChain(
    ...(opts.withBegin === false ? [] : [begin.newNseServer()]),
    exp,
    store,
  );
  const watch = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
    chain.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
  );
  const events = () =>
    watch.items.map((r) => `${r.networkServiceEndpoint?.name}:${r.deleted ? 'deleted' : 'set'}`);
  const stop = async () => {
    await watch.stop();
    await exp.close();
    assert.equal(clock.pending, 0, 'close must cancel every timer');
  };
  return { clock, ctx, chain, events, stop };
}

describe('expire nse server', () => {
  it('sets expirationTime and initialRegistrationTime and returns them', async () => {
    const { clock, ctx, chain, stop } = setup();
    const start = clock.now();
    const got = await chain.register(ctx, nse('a'));
    assert.equal(got.expirationTime?.getTime(), start + PERIOD_MS);
    assert.equal(got.initialRegistrationTime?.getTime(), start);
    await stop();
  });

  it('keeps the caller requested expiration when it is sooner', async () => {
    const { clock, ctx, chain, stop } = setup();
    const soon = new Date(clock.now() + 10_000);
    const got = await chain.register(ctx, nse('a', { expirationTime: soon }));
    assert.equal(got.expirationTime?.getTime(), soon.getTime());
    const past = new Date(clock.now() - 1);
    const later = await chain.register(ctx, nse('b', { expirationTime: past }));
    assert.equal(later.expirationTime?.getTime(), clock.now() + PERIOD_MS, 'a past time is ignored');
    await stop();
  });

  it('unregisters the entry when the period passes, and watchers see deleted', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    await chain.register(ctx, nse('a'));
    clock.advance(PERIOD_MS - 1);
    await never(() => events().includes('a:deleted'));
    clock.advance(1);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'a:deleted']));
    const left: NetworkServiceEndpointResponse[] = [];
    await chain.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) => left.push(r));
    assert.equal(left.length, 0);
    await stop();
  });

  it('a registry stopped past the lease waits for the refresh on resume instead of expiring at once', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    await chain.register(ctx, nse('a'));
    clock.advance(10_000);
    clock.stall(2 * PERIOD_MS); // SIGSTOP for two periods: the refreshes sent meanwhile were not heard
    clock.advance(0);
    await never(() => events().includes('a:deleted'));
    await chain.register(ctx, nse('a')); // the owner's retried refresh lands
    clock.advance(PERIOD_MS - 1);
    await never(() => events().includes('a:deleted'));
    clock.advance(1);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'a:set', 'a:deleted']));
    await stop();
  });

  it('expires an owner that is gone after giving back the time the registry was stopped', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    await chain.register(ctx, nse('a'));
    clock.stall(PERIOD_MS + 30_000);
    clock.advance(0);
    clock.advance(30_000 - 1);
    await never(() => events().includes('a:deleted'));
    clock.advance(1);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'a:deleted']));
    await stop();
  });

  it('expires through the rest of the chain when there is no begin', async () => {
    const { clock, ctx, chain, events, stop } = setup({ withBegin: false });
    await chain.register(ctx, nse('a'));
    clock.advance(PERIOD_MS);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'a:deleted']));
    await stop();
  });

  it('a refresh before expiry renews the lease and keeps initialRegistrationTime', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    const first = await chain.register(ctx, nse('a'));
    clock.advance(40_000);
    const refreshed = await chain.register(ctx, nse('a'));
    assert.equal(refreshed.initialRegistrationTime?.getTime(), first.initialRegistrationTime?.getTime());
    assert.equal(refreshed.expirationTime?.getTime(), clock.now() + PERIOD_MS);
    clock.advance(40_000); // 80s after the first registration, 40s after the refresh
    await never(() => events().includes('a:deleted'));
    clock.advance(20_000);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'a:set', 'a:deleted']));
    await stop();
  });

  it('an explicit unregister cancels the lease', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    await chain.register(ctx, nse('a'));
    await chain.unregister(ctx, nse('a'));
    assert.equal(clock.pending, 0);
    clock.advance(PERIOD_MS);
    await never(() => events().length > 2);
    assert.deepEqual(events(), ['a:set', 'a:deleted']);
    await stop();
  });

  it('leases of different names are independent', async () => {
    const { clock, ctx, chain, events, stop } = setup();
    await chain.register(ctx, nse('a'));
    clock.advance(30_000);
    await chain.register(ctx, nse('b'));
    clock.advance(30_000);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'b:set', 'a:deleted']));
    clock.advance(30_000);
    await eventually(() => assert.deepEqual(events(), ['a:set', 'b:set', 'a:deleted', 'b:deleted']));
    await stop();
  });

  it('refuses a non-positive period and registers after close', async () => {
    assert.throws(() => expire.newNseServer({ expirePeriodMs: 0 }), /must be positive/);
    const { ctx, chain, stop } = setup();
    await stop();
    await assert.rejects(chain.register(ctx, nse('a')), /expire is closed/);
  });
});

describe('expire nse server with begin', () => {
  it('drops an expiry that was overtaken by a refresh in flight', async () => {
    const clock = new FakeClock();
    const ctx = fakeContext(clock);
    const exp = expire.newNseServer({ expirePeriodMs: PERIOD_MS });
    const gate = { hold: false, open: undefined as (() => void) | undefined };
    const gated: NseRegistry = {
      async register(c, item) {
        if (gate.hold) await new Promise<void>((r) => (gate.open = r));
        return next.registry<NetworkServiceEndpoint, never, never>(c).register(c, item);
      },
      find: (c, q, sink) => next.registry<NetworkServiceEndpoint, typeof q, never>(c).find(c, q, sink),
      unregister: (c, item) => next.registry(c).unregister(c, item),
    };
    // begin → expire → gated (holds the refresh) → memory
    const store = memory.newNseServer();
    const chain = newRegistryChain(begin.newNseServer(), exp, gated, store);
    await chain.register(ctx, nse('a'));
    gate.hold = true;
    clock.advance(PERIOD_MS - 1_000);
    const refresh = chain.register(ctx, nse('a')); // held in the gate
    await eventually(() => assert.ok(gate.open));
    clock.advance(1_000); // the old lease runs out while the refresh is in flight
    gate.open?.();
    await refresh;
    const left: string[] = [];
    await eventually(async () => {
      left.length = 0;
      await chain.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
        left.push(r.networkServiceEndpoint?.name ?? ''),
      );
      assert.deepEqual(left, ['a']);
    });
    await never(() => clock.pending !== 1);
    await exp.close();
  });
});
