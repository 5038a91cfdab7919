import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { isNsmError } from '../../errors/index.js';
import { recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import { parseAwarenessGroups } from '../../tools/awarenessgroups/index.js';
import * as point2pointipam from '../ipam/point2pointipam/index.js';
import * as excludedprefixes from './index.js';

/** Two endpoints with the same CIDR, as two services of one client may well have. */
function endpoints(): NetworkServiceElement {
  const byService = new Map([
    ['a', point2pointipam.newServer(['169.254.0.0/29'])],
    ['b', point2pointipam.newServer(['169.254.0.0/29'])],
    ['c', point2pointipam.newServer(['169.254.0.0/29'])],
  ]);
  return {
    request: (ctx, req) =>
      newNetworkServiceChain(byService.get(req.connection!.networkService)!).request(ctx, req),
    close: (ctx, conn) => newNetworkServiceChain(byService.get(conn.networkService)!).close(ctx, conn),
  };
}

describe('excludedprefixes client', () => {
  it("keeps a client's connections to two endpoints with the same CIDR apart", async () => {
    const chain = newNetworkServiceChain(excludedprefixes.newClient(), endpoints());
    const a = await chain.request(background(), request({ id: 'c1', networkService: 'a' }));
    const b = await chain.request(background(), request({ id: 'c2', networkService: 'b' }));
    const ipA = a.context!.ipContext!;
    const ipB = b.context!.ipContext!;
    assert.deepEqual([ipA.dstIpAddrs, ipA.srcIpAddrs], [['169.254.0.0/32'], ['169.254.0.1/32']]);
    assert.deepEqual([ipB.dstIpAddrs, ipB.srcIpAddrs], [['169.254.0.2/32'], ['169.254.0.3/32']]);
    assert.deepEqual(ipB.excludedPrefixes, [], 'the caller sees its own list');
    // A refresh of the first does not exclude its own addresses.
    const again = await chain.request(background(), { connection: a, mechanismPreferences: [] });
    assert.deepEqual(again.context?.ipContext?.srcIpAddrs, ['169.254.0.1/32']);
  });

  it('frees the prefixes of a closed connection for the others', async () => {
    const chain = newNetworkServiceChain(excludedprefixes.newClient(), endpoints());
    const a = await chain.request(background(), request({ id: 'c1', networkService: 'a' }));
    await chain.close(background(), a);
    const b = await chain.request(background(), request({ id: 'c2', networkService: 'b' }));
    assert.deepEqual(b.context?.ipContext?.dstIpAddrs, ['169.254.0.0/32']);
  });

  it('fails with FAILED_PRECONDITION naming the prefixes when an overlap cannot be avoided, and closes the new connection', async () => {
    const downstream = recorder();
    const fixed: NetworkServiceElement = {
      // An endpoint that always answers the same route, whatever is excluded.
      async request(_ctx, req) {
        const ip = req.connection!.context!.ipContext!;
        ip.srcIpAddrs = [`10.0.${req.connection!.id === 'c1' ? 1 : 2}.1/32`];
        ip.srcRoutes = [{ prefix: '10.0.0.0/16', nextHop: '' }];
        return req.connection!;
      },
      close: async () => {},
    };
    const chain = newNetworkServiceChain(excludedprefixes.newClient(), downstream, fixed);
    await chain.request(background(), request({ id: 'c1' }));
    await assert.rejects(
      chain.request(background(), request({ id: 'c2' })),
      (e: unknown) =>
        isNsmError(e) &&
        e.code === status.FAILED_PRECONDITION &&
        /10\.0\.0\.0\/16 \(in 10\.0\.0\.0\/16\)/.test(e.message),
    );
    assert.deepEqual(downstream.ops(), ['request c1', 'request c2', 'close c2']);
  });

  describe('with awareness groups', () => {
    const kernel = (name: string) => [{ cls: 'LOCAL', type: 'KERNEL', parameters: { name } }];
    const ask = (id: string, service: string, labels: Record<string, string> = {}) =>
      request(
        { id, networkService: service, labels: { nodeName: 'n1', ...labels } },
        kernel(`nsm-${service}`),
      );
    const addrs = (c: { context?: { ipContext?: { srcIpAddrs: string[]; dstIpAddrs: string[] } } }) => [
      ...c.context!.ipContext!.dstIpAddrs,
      ...c.context!.ipContext!.srcIpAddrs,
    ];

    it('lets connections of one group overlap: each keeps what its endpoint chose', async () => {
      const awarenessGroups = parseAwarenessGroups('[kernel://a/nsm-a,kernel://b/nsm-b?x=1]');
      const chain = newNetworkServiceChain(excludedprefixes.newClient({ awarenessGroups }), endpoints());
      const a = await chain.request(background(), ask('c1', 'a'));
      const b = await chain.request(background(), ask('c2', 'b', { x: '1' }));
      assert.deepEqual(addrs(a), ['169.254.0.0/32', '169.254.0.1/32']);
      assert.deepEqual(addrs(b), ['169.254.0.0/32', '169.254.0.1/32'], 'same addresses as a: allowed');
      // A refresh of either keeps its group (the mechanism now comes from the connection).
      const again = await chain.request(background(), { connection: b, mechanismPreferences: [] });
      assert.deepEqual(addrs(again), addrs(b));
    });

    it('keeps an ungrouped connection apart from a group, in both directions', async () => {
      const awarenessGroups = parseAwarenessGroups('[kernel://a/nsm-a,kernel://b/nsm-b]');
      const chain = newNetworkServiceChain(excludedprefixes.newClient({ awarenessGroups }), endpoints());
      const c = await chain.request(background(), ask('c0', 'c'));
      const a = await chain.request(background(), ask('c1', 'a'));
      const b = await chain.request(background(), ask('c2', 'b'));
      assert.deepEqual(addrs(c), ['169.254.0.0/32', '169.254.0.1/32']);
      assert.deepEqual(addrs(a), ['169.254.0.2/32', '169.254.0.3/32'], 'a avoids the ungrouped c');
      assert.deepEqual(addrs(b), ['169.254.0.2/32', '169.254.0.3/32'], 'b avoids c, may overlap a');
    });

    it('keeps two groups apart, and a connection whose labels do not match out of the group', async () => {
      const awarenessGroups = parseAwarenessGroups('[kernel://a/nsm-a],[kernel://b/nsm-b?x=1]');
      const chain = newNetworkServiceChain(excludedprefixes.newClient({ awarenessGroups }), endpoints());
      const a = await chain.request(background(), ask('c1', 'a'));
      const b = await chain.request(background(), ask('c2', 'b', { x: '1' }));
      assert.deepEqual(addrs(b), ['169.254.0.2/32', '169.254.0.3/32'], 'other group: apart');
      await chain.close(background(), b);
      const b2 = await chain.request(background(), ask('c3', 'b', { x: '2' }));
      assert.deepEqual(addrs(b2), ['169.254.0.2/32', '169.254.0.3/32'], 'in no group: apart');
      assert.deepEqual(addrs(a), ['169.254.0.0/32', '169.254.0.1/32']);
    });

    it('still fails an overlap with a connection outside the group', async () => {
      const fixed: NetworkServiceElement = {
        async request(_ctx, req) {
          req.connection!.context!.ipContext!.srcIpAddrs = ['10.0.0.1/32'];
          return req.connection!;
        },
        close: async () => {},
      };
      const awarenessGroups = parseAwarenessGroups('[kernel://a/nsm-a,kernel://b/nsm-b]');
      const chain = newNetworkServiceChain(excludedprefixes.newClient({ awarenessGroups }), fixed);
      await chain.request(background(), ask('c1', 'a'));
      await chain.request(background(), ask('c2', 'b'));
      await assert.rejects(
        chain.request(background(), ask('c3', 'c')),
        (e: unknown) =>
          isNsmError(e) && e.code === status.FAILED_PRECONDITION && /10\.0\.0\.1\/32/.test(e.message),
      );
    });
  });
});
