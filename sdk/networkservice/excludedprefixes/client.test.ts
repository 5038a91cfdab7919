import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { isNsmError } from '../../errors/index.js';
import { recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import * as point2pointipam from '../ipam/point2pointipam/index.js';
import * as excludedprefixes from './index.js';

/** Two endpoints with the same CIDR, as two services of one client may well have. */
function endpoints(): NetworkServiceElement {
  const byService = new Map([
    ['a', point2pointipam.newServer(['169.254.0.0/29'])],
    ['b', point2pointipam.newServer(['169.254.0.0/29'])],
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
});
