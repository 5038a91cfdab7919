import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import {
  NetworkService,
  NetworkServiceEndpoint,
  type NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import { getErrorCode } from '../../errors/index.js';
import { FakeClock } from '../../testing/clock.js';
import { describeStore } from '../store-suite.js';
import { collect, eventually, never, tick } from '../testing.js';
import { NS_PLURAL, NSE_PLURAL, nseToSpec } from './common.js';
import * as k8s from './index.js';
import { FakeApiServer } from './testing.js';

// the store contract of the memory backend, on a fake apiserver
describeStore('k8s (fake apiserver)', async () => {
  const fake = new FakeApiServer();
  const nse = k8s.newNseServer({ api: (p) => fake.api(p) });
  const ns = k8s.newNsServer({ api: (p) => fake.api(p) });
  await Promise.all([nse.synced, ns.synced]);
  return { nse, ns, close: async () => void (await Promise.all([nse.close(), ns.close()])) };
});

const ctx = background();
const nse = (
  name: string,
  url = 'tcp://10.0.0.1:5001',
  extra: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0] = {},
) => NetworkServiceEndpoint.fromPartial({ name, url, networkServiceNames: ['icmp'], ...extra });
const cr = (item: NetworkServiceEndpoint) => ({
  apiVersion: 'networkservicemesh.io/v1',
  kind: 'NetworkServiceEndpoint',
  metadata: { name: item.name },
  spec: nseToSpec(item),
});

describe('k8s nse server', () => {
  let fake: FakeApiServer;
  let store: ReturnType<typeof k8s.newNseServer>;
  let clock: FakeClock;

  beforeEach(async () => {
    fake = new FakeApiServer();
    clock = new FakeClock(Date.now());
    store = k8s.newNseServer({
      api: (p) => fake.api(p),
      clock,
      sweepIntervalMs: 1000,
      staleGraceMs: 2000,
    });
    await store.synced;
  });
  afterEach(() => store.close());

  const urlOf = (name: string) => fake.get(NSE_PLURAL, name)?.spec?.url;
  const verbs = () =>
    fake.calls.filter((c) => !c.startsWith('watch') && !c.startsWith('list')).map((c) => c.split(' ')[0]);

  it('creates, then updates conditionally on the version it holds', async () => {
    await store.register(ctx, nse('a'));
    await store.register(ctx, nse('a', 'tcp://10.0.0.2:5001'));
    assert.deepEqual(verbs(), ['create', 'replace']);
    assert.equal(urlOf('a'), 'tcp://10.0.0.2:5001');
  });

  it('re-reads and retries when another writer updated the object first', async () => {
    await store.register(ctx, nse('a'));
    let raced = false;
    fake.beforeWrite = (verb) => {
      if (verb !== 'replace' || raced) return;
      raced = true;
      fake.put(NSE_PLURAL, cr(nse('a', 'tcp://9.9.9.9:1'))); // someone else, before our update lands
    };
    await store.register(ctx, nse('a', 'tcp://10.0.0.3:5001'));
    assert.deepEqual(verbs(), ['create', 'replace', 'get', 'replace']);
    assert.equal(urlOf('a'), 'tcp://10.0.0.3:5001');
  });

  it('updates an object someone else created meanwhile (409 on create)', async () => {
    fake.beforeWrite = (verb) => {
      if (verb === 'create' && !fake.get(NSE_PLURAL, 'a'))
        fake.put(NSE_PLURAL, cr(nse('a', 'tcp://9.9.9.9:1')));
    };
    await store.register(ctx, nse('a'));
    assert.deepEqual(verbs(), ['create', 'get', 'replace']);
    assert.equal(urlOf('a'), 'tcp://10.0.0.1:5001');
  });

  it(`gives up with ABORTED after ${k8s.MAX_ATTEMPTS} conflicts`, async () => {
    await store.register(ctx, nse('a'));
    let n = 0;
    fake.beforeWrite = (verb) => {
      if (verb === 'replace') fake.put(NSE_PLURAL, cr(nse('a', `tcp://9.9.9.9:${++n}`)));
    };
    await assert.rejects(store.register(ctx, nse('a', 'tcp://10.0.0.3:5001')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.ABORTED);
      assert.match(
        String(e),
        /network service endpoint "a": still conflicting after 5 attempts: the object has been modified/,
      );
      return true;
    });
    assert.equal(verbs().filter((v) => v === 'replace').length, k8s.MAX_ATTEMPTS);
  });

  it('creates the object again when it was deleted under us', async () => {
    await store.register(ctx, nse('a'));
    fake.beforeWrite = (verb) => {
      if (verb === 'replace') fake.remove(NSE_PLURAL, 'a');
    };
    await store.register(ctx, nse('a', 'tcp://10.0.0.4:5001'));
    assert.equal(urlOf('a'), 'tcp://10.0.0.4:5001');
  });

  it('maps API failures to gRPC codes naming the entry', async () => {
    fake.failures.set(`create ${NSE_PLURAL}`, { code: 422, times: 1 });
    await assert.rejects(store.register(ctx, nse('a')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.INVALID_ARGUMENT);
      assert.match(String(e), /failed to register network service endpoint "a" in Kubernetes: injected 422/);
      return true;
    });
    fake.failures.set(`delete ${NSE_PLURAL}`, { code: 503, times: 1 });
    await assert.rejects(
      store.unregister(ctx, nse('a')),
      (e: unknown) => getErrorCode(e) === status.UNAVAILABLE,
    );
    await store.unregister(ctx, nse('never-registered')); // 404: fine
  });

  it('tells watchers once per change, though both the write and the informer report it', async () => {
    const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
      store.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
    );
    await store.register(ctx, nse('a'));
    assert.equal(w.items.length, 1, 'seen as soon as Register returns');
    await store.unregister(ctx, nse('a'));
    assert.equal(w.items.length, 2);
    await never(() => w.items.length > 2, 100); // the informer's ADDED and DELETED change nothing
    // a late informer event older than what the write returned does not bring it back either
    const found: string[] = [];
    await store.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
      found.push(r.networkServiceEndpoint?.name ?? ''),
    );
    assert.deepEqual(found, []);
    await w.stop();
  });

  it('sees what other writers register and delete', async () => {
    const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
      store.find(
        c,
        { networkServiceEndpoint: nse('', '', { networkServiceNames: ['icmp'] }), watch: true },
        sink,
      ),
    );
    fake.put(NSE_PLURAL, cr(nse('other')));
    fake.put(NSE_PLURAL, cr(nse('dns-only', 'tcp://1.1.1.1:1', { networkServiceNames: ['dns'] })));
    fake.remove(NSE_PLURAL, 'other');
    await eventually(() =>
      assert.deepEqual(
        w.items.map((r) => `${r.networkServiceEndpoint?.name}:${r.deleted}`),
        ['other:false', 'other:true'],
      ),
    );
    await w.stop();
  });

  it('deletes endpoints that expired more than the grace ago, unless refreshed', async () => {
    const now = clock.now();
    fake.put(NSE_PLURAL, cr(nse('stale', 'tcp://1.1.1.1:1', { expirationTime: new Date(now + 1000) })));
    fake.put(NSE_PLURAL, cr(nse('fresh', 'tcp://1.1.1.2:1', { expirationTime: new Date(now + 1000) })));
    await eventually(async () => {
      const n: string[] = [];
      await store.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
        n.push(r.networkServiceEndpoint?.name ?? ''),
      );
      assert.equal(n.length, 2);
    });
    await clock.advanceAsync(2000); // expired, within grace
    assert.ok(fake.get(NSE_PLURAL, 'stale'));
    // a refresh of 'fresh' lands between our look and our delete: the version precondition protects it
    fake.beforeWrite = (verb, name) => {
      if (verb === 'delete' && name === 'fresh')
        fake.put(NSE_PLURAL, cr(nse('fresh', 'tcp://1.1.1.2:1', { expirationTime: new Date(now + 60_000) })));
    };
    await clock.advanceAsync(2000);
    await tick();
    assert.deepEqual(verbs(), ['delete', 'delete']);
    assert.equal(fake.get(NSE_PLURAL, 'stale'), undefined);
    assert.ok(fake.get(NSE_PLURAL, 'fresh'));
  });

  it('leaves an entry alone when a lease that ran out is unregistered but the object was refreshed elsewhere', async () => {
    const now = clock.now();
    await store.register(ctx, nse('a', 'tcp://10.0.0.1:5001', { expirationTime: new Date(now + 1000) }));
    // another registry refreshed it
    const cur = fake.get(NSE_PLURAL, 'a');
    fake.put(NSE_PLURAL, {
      ...cr(nse('a', 'tcp://10.0.0.1:5001', { expirationTime: new Date(now + 60_000) })),
      metadata: { ...cur?.metadata },
    });
    await eventually(async () => {
      const got: (Date | undefined)[] = [];
      await store.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
        got.push(r.networkServiceEndpoint?.expirationTime),
      );
      assert.equal(got[0]?.getTime(), now + 60_000);
    });
    clock.advance(1000);
    await store.unregister(ctx, nse('a', 'tcp://10.0.0.1:5001', { expirationTime: new Date(now + 1000) }));
    assert.ok(fake.get(NSE_PLURAL, 'a'), 'still there');
    // an Unregister by the endpoint itself (no lease, or a current one) deletes it
    await store.unregister(ctx, nse('a'));
    assert.equal(fake.get(NSE_PLURAL, 'a'), undefined);
  });

  it('keeps network services apart and never expires them', async () => {
    const ns = k8s.newNsServer({ api: (p) => fake.api(p), clock, sweepIntervalMs: 10 });
    try {
      await ns.synced;
      await ns.register(ctx, NetworkService.fromPartial({ name: 'icmp', payload: 'ETHERNET' }));
      await clock.advanceAsync(10 * 60_000);
      assert.deepEqual(fake.get(NS_PLURAL, 'icmp')?.spec, { name: 'icmp', payload: 'ETHERNET' });
      assert.equal(fake.get(NSE_PLURAL, 'icmp'), undefined);
    } finally {
      await ns.close();
    }
  });
});
