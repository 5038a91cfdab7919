// The registry's gRPC API tests, parametrised by backend so the memory and k8s stores are held to the same
// semantics (registry/server.test.ts runs them on memory, test/k8s/registry.test.ts on a real apiserver).
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import {
  NetworkService,
  NetworkServiceEndpoint,
  type NetworkServiceEndpointResponse,
  type NetworkServiceResponse,
} from '../api/gen/registry/registry.js';
import { background, withTimeout } from '../sdk/core/context.js';
import { getErrorCode } from '../sdk/errors/index.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import {
  type NseRegistryClient,
  type NsRegistryClient,
  newNseRegistryClient,
  newNsRegistryClient,
} from '../sdk/grpc/registry-client.js';
import { collect, eventually } from '../sdk/registry/testing.js';
import { type Registry, type RegistryOptions, startRegistry } from './server.js';

export type BackendOptions = Omit<Partial<RegistryOptions>, 'listenOn' | 'expirePeriodMs'>;

const nse = (name: string, extra: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0] = {}) =>
  NetworkServiceEndpoint.fromPartial({
    name,
    url: `unix:///tmp/${name}.sock`,
    networkServiceNames: ['icmp'],
    ...extra,
  });
const allNse = { networkServiceEndpoint: undefined, watch: false };

function expectCode(p: Promise<unknown>, code: status, fragment?: string) {
  return assert.rejects(p, (e: unknown) => {
    assert.equal(getErrorCode(e), code, String(e));
    if (fragment) assert.ok(String(e).includes(fragment), `${String(e)} should include ${fragment}`);
    return true;
  });
}

/**
 * The registry's gRPC API semantics, run against one backend: `backend()` is called before each test and
 * returns the options that select and configure it (registry/server.test.ts: memory; test/k8s: k8s).
 */
export function describeRegistryApi(label: string, backend: () => Promise<BackendOptions>): void {
  describe(`registry over gRPC (${label} backend)`, () => {
    let dir: string;
    let registry: Registry;
    let nseClient: NseRegistryClient;
    let nsClient: NsRegistryClient;
    const ctx = background();

    let extra: BackendOptions;

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nsm-registry-'));
      extra = await backend();
      registry = await startRegistry({
        ...extra,
        listenOn: `unix://${join(dir, 'registry.sock')}`,
        expirePeriodMs: 60_000,
      });
      nseClient = newNseRegistryClient(registry.url);
      nsClient = newNsRegistryClient(registry.url);
    });

    afterEach(async () => {
      await nseClient.close();
      await nsClient.close();
      await registry.close();
      assert.equal(existsSync(join(dir, 'registry.sock')), false, 'the socket is removed on close');
      rmSync(dir, { recursive: true, force: true });
    });

    it('registers, finds and unregisters endpoints', async () => {
      const got = await nseClient.register(ctx, nse('nse-1'));
      assert.ok(got.expirationTime && got.expirationTime.getTime() > Date.now());
      assert.ok(got.initialRegistrationTime);
      await nseClient.register(ctx, nse('nse-2', { networkServiceNames: ['dns'] }));

      const found: NetworkServiceEndpointResponse[] = [];
      await nseClient.find(
        ctx,
        { networkServiceEndpoint: nse('', { url: '', networkServiceNames: ['icmp'] }), watch: false },
        (r) => found.push(r),
      );
      assert.deepEqual(
        found.map((r) => [r.networkServiceEndpoint?.name, r.deleted]),
        [['nse-1', false]],
      );
      assert.equal(found[0].networkServiceEndpoint?.expirationTime?.getTime(), got.expirationTime.getTime());

      await nseClient.unregister(ctx, nse('nse-1'));
      await nseClient.unregister(ctx, nse('nse-1')); // unknown: still fine
      found.length = 0;
      await nseClient.find(ctx, allNse, (r) => found.push(r));
      assert.deepEqual(
        found.map((r) => r.networkServiceEndpoint?.name),
        ['nse-2'],
      );
    });

    it('streams changes to a watching Find until the caller cancels', async () => {
      await nseClient.register(ctx, nse('nse-1'));
      const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
        nseClient.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
      );
      await eventually(() => assert.equal(w.items.length, 1));
      await nseClient.register(ctx, nse('nse-2'));
      await nseClient.unregister(ctx, nse('nse-1'));
      const seen = () =>
        w.items.map((r) => `${r.networkServiceEndpoint?.name}:${r.deleted ? 'deleted' : 'set'}`);
      await eventually(() => assert.deepEqual(seen(), ['nse-1:set', 'nse-2:set', 'nse-1:deleted']));
      await w.stop(); // resolves: a watch ends without error when its ctx is cancelled
      await nseClient.register(ctx, nse('nse-3'));
      assert.equal(w.items.length, 3);
    });

    it('reports expiry to watchers as deleted', async () => {
      await registry.close();
      registry = await startRegistry({
        ...extra,
        listenOn: `unix://${join(dir, 'registry.sock')}`,
        expirePeriodMs: 150,
      });
      await nseClient.close();
      nseClient = newNseRegistryClient(registry.url);
      const w = collect<NetworkServiceEndpointResponse>(ctx, (c, sink) =>
        nseClient.find(c, { networkServiceEndpoint: undefined, watch: true }, sink),
      );
      await nseClient.register(ctx, nse('short'));
      await eventually(() =>
        assert.deepEqual(
          w.items.map((r) => r.deleted),
          [false, true],
        ),
      );
      await w.stop();
    });

    it('maps errors to status codes', async () => {
      await expectCode(
        nseClient.register(ctx, nse('bad', { url: 'nowhere' })),
        status.INVALID_ARGUMENT,
        'url: missing port',
      );
      await expectCode(nseClient.register(ctx, nse('')), status.INVALID_ARGUMENT, 'name: is required');
      await expectCode(nseClient.unregister(ctx, nse('')), status.INVALID_ARGUMENT);
      await nseClient.register(ctx, nse('taken', { url: 'unix:///tmp/a.sock' }));
      await expectCode(
        nseClient.register(ctx, nse('taken', { url: 'unix:///tmp/b.sock' })),
        status.ALREADY_EXISTS,
        'already registered by another owner',
      );
      await expectCode(
        nsClient.register(ctx, NetworkService.fromPartial({ name: 'x', payload: 'bogus' })),
        status.INVALID_ARGUMENT,
        'payload',
      );
    });

    it('registers and watches network services', async () => {
      await nsClient.register(ctx, NetworkService.fromPartial({ name: 'icmp', payload: 'ETHERNET' }));
      const w = collect<NetworkServiceResponse>(ctx, (c, sink) =>
        nsClient.find(c, { networkService: NetworkService.fromPartial({ name: 'icmp' }), watch: true }, sink),
      );
      await eventually(() => assert.equal(w.items.length, 1));
      await nsClient.unregister(ctx, NetworkService.fromPartial({ name: 'icmp' }));
      await eventually(() =>
        assert.deepEqual(
          w.items.map((r) => [r.networkService?.payload, r.deleted]),
          [
            ['ETHERNET', false],
            ['ETHERNET', true],
          ],
        ),
      );
      await w.stop();
    });

    it('ends open watches with UNAVAILABLE when the registry closes', async () => {
      const done = nseClient.find(ctx, { networkServiceEndpoint: undefined, watch: true }, () => {});
      const ended = expectCode(done, status.UNAVAILABLE, 'shutting down');
      await new Promise((r) => setTimeout(r, 50));
      await registry.close();
      await ended;
    });

    it('honours the caller deadline and cancellation', async () => {
      const { ctx: late, cancel } = withTimeout(background(), 0);
      await new Promise((r) => setTimeout(r, 5));
      await expectCode(nseClient.register(late, nse('late')), status.DEADLINE_EXCEEDED);
      cancel();
      const ac = new AbortController();
      const oneShot = nseClient.find({ ...background(), signal: ac.signal }, allNse, () => {});
      ac.abort();
      await expectCode(oneShot, status.CANCELLED);
    });

    it('fails with UNAVAILABLE when nothing listens', async () => {
      const nowhere = newNseRegistryClient(`unix://${join(dir, 'nothing.sock')}`);
      try {
        const { ctx: short, cancel } = withTimeout(background(), 300);
        await expectCode(nowhere.register(short, nse('x')), status.UNAVAILABLE);
        cancel();
      } finally {
        await nowhere.close();
      }
    });

    it('shares one connection per URL through the pool it is given', async () => {
      const pool = new ClientPool();
      const ns = newNsRegistryClient(registry.url, { pool });
      const nses = newNseRegistryClient(registry.url, { pool });
      try {
        await ns.find(ctx, { networkService: undefined, watch: false }, () => {});
        await nses.find(ctx, allNse, () => {});
        assert.equal(pool.size, 1);
        await nses.close();
        await nses.close(); // twice is fine
        await expectCode(
          nses.find(ctx, allNse, () => {}),
          status.FAILED_PRECONDITION,
          'registry client is closed',
        );
        await ns.find(ctx, { networkService: undefined, watch: false }, () => {});
        assert.equal(pool.size, 1, 'closing a client does not close the pool it was given');
      } finally {
        await ns.close();
        await pool.close();
      }
    });
  });
}
