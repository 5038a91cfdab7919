// Registry ownership with identities: an endpoint or a network service belongs to the SPIFFE ID that
// registered it over mTLS.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import { newRegistryChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { withPeer as withTlsPeer } from '../../tools/spiffe/peer.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { withPeer } from '../../tools/unixpeer/index.js';
import * as begin from '../begin/index.js';
import * as expire from '../expire/index.js';
import * as memory from '../memory/index.js';
import { eventually } from '../testing.js';
import * as owner from './index.js';

const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
const A = 'spiffe://example.org/nsmgr-node1';
const B = 'spiffe://example.org/nsmgr-node2';

/** A call over mTLS from `spiffeId` (from `ip`), as contextFromCall builds it. */
function as(ctx: Context, spiffeId: string, ip = '10.0.0.1'): Context {
  return withTlsPeer(withPeer(ctx, { transport: 'tcp', address: `${ip}:4000` }), {
    spiffeId: parseSpiffeId(spiffeId),
    publicKey,
  });
}

const nse = (name: string, url: string, services: string[] = ['icmp']) =>
  NetworkServiceEndpoint.fromPartial({ name, url, networkServiceNames: services });

function refusedBy(owner: string, caller: string) {
  return (e: unknown) => {
    assert.equal(getErrorCode(e), status.PERMISSION_DENIED, String(e));
    assert.match(
      (e as Error).message,
      new RegExp(`is registered by ${owner}; ${caller} may not change or unregister it`),
    );
    return true;
  };
}

describe('owner by identity', () => {
  describe('endpoints', () => {
    function setup() {
      const clock = new FakeClock();
      const ctx = fakeContext(clock);
      const exp = expire.newNseServer({ expirePeriodMs: 60_000 });
      const chain = newRegistryChain(begin.newNseServer(), owner.newNseServer(), exp, memory.newNseServer());
      const content = async () => {
        const out: string[] = [];
        await chain.find(ctx, { networkServiceEndpoint: undefined, watch: false }, (r) =>
          out.push(
            `${r.networkServiceEndpoint?.name}@${r.networkServiceEndpoint?.url}:${r.networkServiceEndpoint?.networkServiceNames}`,
          ),
        );
        return out;
      };
      return { clock, ctx, chain, content, close: () => exp.close() };
    }

    it("refuses another identity's re-registration, change and unregister, naming the owner; the entry is unchanged", async () => {
      const { ctx, chain, content, close } = setup();
      await chain.register(as(ctx, A), nse('x', 'tcp://10.0.0.1:5001'));
      const before = await content();
      // the same content and URL, another URL, other services, from the owner's own address even
      for (const item of [
        nse('x', 'tcp://10.0.0.1:5001'),
        nse('x', 'tcp://10.0.0.2:5001'),
        nse('x', 'tcp://10.0.0.1:5001', ['forwarder']),
      ]) {
        await assert.rejects(chain.register(as(ctx, B, '10.0.0.1'), item), refusedBy(A, B));
      }
      await assert.rejects(chain.unregister(as(ctx, B, '10.0.0.1'), nse('x', '')), refusedBy(A, B));
      await assert.rejects(
        chain.unregister(withPeer(ctx, { transport: 'tcp', address: '10.0.0.1:1' }), nse('x', '')),
        refusedBy(A, 'a caller without a SPIFFE ID'),
      );
      assert.deepEqual(await content(), before);
      await close();
    });

    it('lets the owner refresh, change its URL and services, and unregister', async () => {
      const { ctx, chain, content, close } = setup();
      await chain.register(as(ctx, A), nse('x', 'tcp://10.0.0.1:5001'));
      await chain.register(as(ctx, A), nse('x', 'tcp://10.0.0.1:5001'));
      await chain.register(as(ctx, A, '10.0.0.9'), nse('x', 'tcp://10.0.0.9:5001', ['icmp', 'other']));
      assert.deepEqual(await content(), ['x@tcp://10.0.0.9:5001:icmp,other']);
      await chain.unregister(as(ctx, A, '10.0.0.9'), nse('x', ''));
      assert.deepEqual(await content(), []);
      await chain.register(as(ctx, B), nse('x', 'tcp://10.0.0.2:5001'));
      assert.deepEqual(
        await content(),
        ['x@tcp://10.0.0.2:5001:icmp'],
        'after an unregister anyone may take it',
      );
      await close();
    });

    it('lets another identity take the name once the lease expired', async () => {
      const { clock, ctx, chain, content, close } = setup();
      await chain.register(as(ctx, A), nse('x', 'tcp://10.0.0.1:5001'));
      clock.advance(60_000);
      await eventually(async () => assert.deepEqual(await content(), []));
      await chain.register(as(ctx, B), nse('x', 'tcp://10.0.0.2:5001'));
      assert.deepEqual(await content(), ['x@tcp://10.0.0.2:5001:icmp']);
      await close();
    });
  });

  describe('network services', () => {
    function setup() {
      const clock = new FakeClock();
      const ctx = fakeContext(clock);
      const chain = newRegistryChain(owner.newNsServer(), memory.newNsServer());
      const content = async () => {
        const out: string[] = [];
        await chain.find(ctx, { networkService: undefined, watch: false }, (r) =>
          out.push(JSON.stringify(r.networkService)),
        );
        return out;
      };
      return { ctx, chain, content };
    }
    const service = (payload: string, matches: NetworkService['matches'] = []) =>
      NetworkService.fromPartial({ name: 'secure', payload, matches });

    it("refuses another identity's change and unregister; accepts its unchanged re-registration", async () => {
      const { ctx, chain, content } = setup();
      await chain.register(as(ctx, A), service('ETHERNET'));
      const before = await content();
      await assert.rejects(chain.register(as(ctx, B), service('IP')), refusedBy(A, B));
      await assert.rejects(
        chain.register(
          as(ctx, B),
          service('ETHERNET', [
            { sourceSelector: { app: 'x' }, routes: [], fallthrough: false, metadata: undefined },
          ]),
        ),
        refusedBy(A, B),
      );
      await assert.rejects(chain.unregister(as(ctx, B), service('')), refusedBy(A, B));
      await chain.register(as(ctx, B), service('ETHERNET')); // an endpoint racing to register its service
      assert.deepEqual(await content(), before);
      // the owner stayed A
      await assert.rejects(chain.register(as(ctx, B), service('IP')), refusedBy(A, B));
      await chain.register(as(ctx, A), service('IP'));
      await chain.unregister(as(ctx, A), service(''));
      assert.deepEqual(await content(), []);
    });

    it('gives a name two identities register at once to the first; the second is refused', async () => {
      const { ctx, chain, content } = setup();
      const results = await Promise.allSettled([
        chain.register(as(ctx, A), service('ETHERNET')),
        chain.register(as(ctx, B), service('IP')),
      ]);
      assert.equal(results[0].status, 'fulfilled');
      assert.equal(results[1].status, 'rejected');
      assert.match(String((results[1] as PromiseRejectedResult).reason), new RegExp(`registered by ${A}`));
      assert.deepEqual(
        (await content()).map((c) => JSON.parse(c).payload),
        ['ETHERNET'],
      );
    });

    it('checks nothing without identities', async () => {
      const { ctx, chain, content } = setup();
      const plain = (ip: string) => withPeer(ctx, { transport: 'tcp', address: `${ip}:1` });
      await chain.register(plain('10.0.0.1'), service('ETHERNET'));
      await chain.register(plain('10.0.0.2'), service('IP'));
      await chain.unregister(plain('10.0.0.3'), service(''));
      assert.deepEqual(await content(), []);
    });
  });
});
