// The store contract shared by the memory and k8s backends, as one parametrised suite.
import assert from 'node:assert/strict';
import {
  NetworkService,
  NetworkServiceEndpoint,
  type NetworkServiceEndpointResponse,
  type NetworkServiceResponse,
} from '../../api/gen/registry/registry.js';
import { background } from '../core/context.js';
import type { NseRegistry, NsRegistry } from '../core/types.js';
import { collect, eventually, tick } from './testing.js';

const nse = (o: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0]) =>
  NetworkServiceEndpoint.fromPartial(o);
const names = (rs: NetworkServiceEndpointResponse[]) => rs.map((r) => r.networkServiceEndpoint?.name).sort();

/** A fresh, empty pair of stores; `close` releases them. */
export type StoreFactory = () => Promise<{ nse: NseRegistry; ns: NsRegistry; close(): Promise<void> }>;

/**
 * The behaviour every store at the end of a registry chain shares (memory, k8s): Find templates, watch,
 * copies, sink failures, unknown names. sdk/registry/memory runs it on memory, sdk/registry/k8s on a fake
 * apiserver, test/k8s on a real one.
 */
export function describeStore(label: string, factory: StoreFactory): void {
  describe(`${label} store`, () => describeStoreCases(factory));
}

function describeStoreCases(factory: StoreFactory): void {
  const open: { close(): Promise<void> }[] = [];
  const make = async () => {
    const s = await factory();
    open.push(s);
    return s;
  };
  afterEach(async () => {
    for (const s of open.splice(0)) await s.close();
  });

  async function seeded() {
    const m = (await make()).nse;
    const ctx = background();
    await m.register(ctx, nse({ name: 'nse-a', url: 'tcp://10.0.0.1:5001', networkServiceNames: ['icmp'] }));
    await m.register(
      ctx,
      nse({
        name: 'nse-b',
        url: 'unix:///b.sock',
        networkServiceNames: ['icmp', 'vl3'],
        networkServiceLabels: { icmp: { labels: { app: 'b', zone: 'z1' } } },
      }),
    );
    await m.register(
      ctx,
      nse({ name: 'fwd-1', url: 'unix:///fwd.sock', networkServiceNames: ['forwarder'] }),
    );
    return m;
  }

  describe('endpoints', () => {
    const cases: { name: string; template?: Parameters<typeof nse>[0]; want: string[] }[] = [
      { name: 'no template finds all', want: ['fwd-1', 'nse-a', 'nse-b'] },
      { name: 'empty template finds all', template: {}, want: ['fwd-1', 'nse-a', 'nse-b'] },
      { name: 'exact name', template: { name: 'nse-a' }, want: ['nse-a'] },
      { name: 'name is an exact match', template: { name: 'nse' }, want: [] },
      { name: 'one service name', template: { networkServiceNames: ['icmp'] }, want: ['nse-a', 'nse-b'] },
      {
        name: 'all service names must be present',
        template: { networkServiceNames: ['icmp', 'vl3'] },
        want: ['nse-b'],
      },
      { name: 'unknown service', template: { networkServiceNames: ['nope'] }, want: [] },
      { name: 'url', template: { url: 'unix:///fwd.sock' }, want: ['fwd-1'] },
      {
        name: 'labels are a subset',
        template: { networkServiceLabels: { icmp: { labels: { app: 'b' } } } },
        want: ['nse-b'],
      },
      {
        name: 'labels must all match',
        template: { networkServiceLabels: { icmp: { labels: { app: 'b', zone: 'z2' } } } },
        want: [],
      },
    ];
    for (const c of cases) {
      it(`finds by template: ${c.name}`, async () => {
        const m = await seeded();
        const got: NetworkServiceEndpointResponse[] = [];
        const query = { networkServiceEndpoint: c.template ? nse(c.template) : undefined, watch: false };
        await m.find(background(), query, (r) => got.push(r));
        assert.deepEqual(names(got), c.want);
        assert.ok(got.every((r) => !r.deleted));
      });
    }

    it('replaces an entry on re-register and keeps a copy, not the caller object', async () => {
      const m = (await make()).nse;
      const item = nse({ name: 'x', url: 'unix:///1.sock' });
      await m.register(background(), item);
      item.url = 'unix:///mutated.sock';
      const got: NetworkServiceEndpointResponse[] = [];
      await m.find(background(), { networkServiceEndpoint: undefined, watch: false }, (r) => got.push(r));
      assert.equal(got[0].networkServiceEndpoint?.url, 'unix:///1.sock');
      await m.register(background(), nse({ name: 'x', url: 'unix:///2.sock' }));
      got.length = 0;
      await m.find(background(), { networkServiceEndpoint: undefined, watch: false }, (r) => got.push(r));
      assert.deepEqual(
        got.map((r) => r.networkServiceEndpoint?.url),
        ['unix:///2.sock'],
      );
    });

    it('watch delivers the list, then matching registers and unregisters, until cancelled', async () => {
      const m = await seeded();
      const ctx = background();
      const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
        m.find(c, { networkServiceEndpoint: nse({ networkServiceNames: ['icmp'] }), watch: true }, sink),
      );
      assert.deepEqual(names(w.items), ['nse-a', 'nse-b']);
      await m.register(ctx, nse({ name: 'nse-c', url: 'unix:///c.sock', networkServiceNames: ['icmp'] }));
      await m.register(ctx, nse({ name: 'other', url: 'unix:///o.sock', networkServiceNames: ['dns'] }));
      await m.unregister(ctx, nse({ name: 'nse-a' }));
      await m.unregister(ctx, nse({ name: 'other' }));
      assert.deepEqual(
        w.items.slice(2).map((r) => [r.networkServiceEndpoint?.name, r.deleted]),
        [
          ['nse-c', false],
          ['nse-a', true],
        ],
      );
      // the deleted event carries the stored entry, not the (partial) unregister request
      assert.equal(w.items[3].networkServiceEndpoint?.url, 'tcp://10.0.0.1:5001');
      await w.stop();
      await m.register(ctx, nse({ name: 'nse-d', url: 'unix:///d.sock', networkServiceNames: ['icmp'] }));
      assert.equal(w.items.length, 4);
    });

    it('does not resolve a watch until it is cancelled', async () => {
      const m = await seeded();
      let resolved = false;
      const w = collect<NetworkServiceEndpointResponse>(background(), (c, sink) =>
        m.find(c, { networkServiceEndpoint: undefined, watch: true }, sink).then(() => {
          resolved = true;
        }),
      );
      await tick();
      assert.equal(resolved, false);
      await w.stop();
      assert.equal(resolved, true);
    });

    it('ends a watch with the error when its sink throws', async () => {
      const m = await seeded();
      const done = m.find(background(), { networkServiceEndpoint: nse({ name: 'zzz' }), watch: true }, () => {
        throw new Error('broken pipe');
      });
      // observed before the Register: a store fed by an informer may deliver (and fail) before Register returns
      const failed = assert.rejects(done, /broken pipe/);
      await m.register(background(), nse({ name: 'zzz', url: 'unix:///z.sock' }));
      await failed;
      // the broken watcher is gone: further changes do not reach it
      await m.register(background(), nse({ name: 'zzz', url: 'unix:///z2.sock' }));
    });

    it('unregisters an unknown name without error and without an event', async () => {
      const m = await seeded();
      const w = collect<NetworkServiceEndpointResponse>(background(), (c, sink) =>
        m.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
      );
      await m.unregister(background(), nse({ name: 'ghost' }));
      await tick();
      assert.equal(w.items.length, 3);
      await w.stop();
    });
  });

  describe('services', () => {
    it('finds by name and payload and watches changes', async () => {
      const m = (await make()).ns;
      const ctx = background();
      await m.register(ctx, NetworkService.fromPartial({ name: 'icmp', payload: 'ETHERNET' }));
      await m.register(ctx, NetworkService.fromPartial({ name: 'vl3', payload: 'IP' }));
      const got: NetworkServiceResponse[] = [];
      await m.find(
        ctx,
        { networkService: NetworkService.fromPartial({ payload: 'IP' }), watch: false },
        (r) => got.push(r),
      );
      assert.deepEqual(
        got.map((r) => r.networkService?.name),
        ['vl3'],
      );
      const w = collect<NetworkServiceResponse>(ctx, (c, sink) =>
        m.find(c, { networkService: NetworkService.fromPartial({ name: 'icmp' }), watch: true }, sink),
      );
      await m.register(ctx, NetworkService.fromPartial({ name: 'icmp', payload: 'IP' }));
      await m.unregister(ctx, NetworkService.fromPartial({ name: 'icmp' }));
      await eventually(() =>
        assert.deepEqual(
          w.items.map((r) => [r.networkService?.payload, r.deleted]),
          [
            ['ETHERNET', false],
            ['IP', false],
            ['IP', true],
          ],
        ),
      );
      await w.stop();
    });
  });
}
