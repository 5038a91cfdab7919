import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { ConnectionContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import { background } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import { isNsmError } from '../../../errors/index.js';
import { request } from '../../../testing/connections.js';
import { injectError } from '../../../testing/inject.js';
import * as vl3ipam from './index.js';

function setup(slice = '172.16.3.0/24') {
  const addresses = new vl3ipam.SliceAddresses();
  addresses.setSlice(slice);
  return { addresses, server: vl3ipam.newServer({ network: '172.16.0.0/16', addresses }) };
}

function withSrc(id: string, src: string[]) {
  const req = request({ id });
  req.connection!.context = ConnectionContext.fromPartial({ ipContext: { srcIpAddrs: src } });
  return req;
}

describe('vl3ipam server', () => {
  it('gives a member an address of the slice, the replica address as dst, and a route to the whole prefix', async () => {
    const chain = newNetworkServiceChain(setup().server);
    const ip = (await chain.request(background(), request({ id: 'a' }))).context!.ipContext!;
    assert.deepEqual(ip.srcIpAddrs, ['172.16.3.2/32']);
    assert.deepEqual(ip.dstIpAddrs, ['172.16.3.1/32']);
    assert.deepEqual(ip.srcRoutes, [{ prefix: '172.16.0.0/16', nextHop: '172.16.3.1' }]);
  });

  it('splits the route to the prefix around the excluded prefixes', async () => {
    const chain = newNetworkServiceChain(setup().server);
    const req = request({ id: 'a' });
    req.connection!.context = ConnectionContext.fromPartial({
      ipContext: { excludedPrefixes: ['172.16.128.0/17', '172.16.64.0/18', '10.96.0.0/12'] },
    });
    const ip = (await chain.request(background(), req)).context!.ipContext!;
    assert.deepEqual(ip.srcRoutes, [{ prefix: '172.16.0.0/18', nextHop: '172.16.3.1' }]);
    assert.deepEqual(ip.srcIpAddrs, ['172.16.3.2/32']);
  });

  it('fails with FAILED_PRECONDITION naming the prefixes when all of the vL3 prefix is excluded, holding nothing', async () => {
    const { server, addresses } = setup();
    const chain = newNetworkServiceChain(server);
    const req = request({ id: 'a' });
    // A second connection of one client to the same vL3 network: the first one's route excludes it all.
    req.connection!.context = ConnectionContext.fromPartial({
      ipContext: { excludedPrefixes: ['172.16.0.0/16', '172.16.3.2/32'] },
    });
    await assert.rejects(
      chain.request(background(), req),
      (e: unknown) =>
        isNsmError(e) &&
        e.code === status.FAILED_PRECONDITION &&
        /vL3 prefix 172\.16\.0\.0\/16 lies inside the excluded prefixes 172\.16\.0\.0\/16/.test(e.message),
    );
    assert.equal(addresses.has('a'), false);
  });

  it('keeps a member address on refresh and gives the others distinct ones', async () => {
    const chain = newNetworkServiceChain(setup().server);
    const a = await chain.request(background(), request({ id: 'a' }));
    const b = await chain.request(background(), request({ id: 'b' }));
    const again = await chain.request(background(), { connection: a, mechanismPreferences: [] });
    assert.deepEqual(again.context?.ipContext?.srcIpAddrs, ['172.16.3.2/32']);
    assert.deepEqual(b.context?.ipContext?.srcIpAddrs, ['172.16.3.3/32']);
  });

  it('gives members their addresses back after a restart, and never one that is in use', async () => {
    const before = newNetworkServiceChain(setup().server);
    const conns = [];
    for (const id of ['a', 'b', 'c']) conns.push(await before.request(background(), request({ id })));
    const had = conns.map((c) => c.context!.ipContext!.srcIpAddrs[0]);
    // A new replica process with the same slice finds its members' addresses in the kernel and
    // reserves them; a newcomer arrives before the members refresh (in any order).
    const { addresses, server } = setup();
    addresses.reserve(had, Date.now() + 60_000);
    const after = newNetworkServiceChain(server);
    const fresh = await after.request(background(), request({ id: 'new' }));
    const got = [];
    for (const i of [2, 0, 1])
      got[i] = await after.request(background(), { connection: conns[i], mechanismPreferences: [] });
    assert.deepEqual(
      got.map((c) => c.context?.ipContext?.srcIpAddrs[0]),
      had,
      'no address changed',
    );
    const all = [fresh, ...got].map((c) => c.context?.ipContext?.srcIpAddrs[0]);
    assert.equal(new Set(all).size, all.length, `no address shared: ${all}`);
  });

  it('hands a reserved address to others once the reservation ran out', async () => {
    let t = 0;
    const addresses = new vl3ipam.SliceAddresses(() => t);
    addresses.setSlice('172.16.3.0/24');
    addresses.reserve(['172.16.3.2/32'], 1000);
    assert.equal(addresses.allocate('x', [], []), '172.16.3.3/32');
    t = 1000;
    assert.equal(addresses.allocate('y', [], []), '172.16.3.2/32');
  });

  it("does not free a member's address when the Close of its old path arrives after it healed", async () => {
    const { addresses, server } = setup();
    const chain = newNetworkServiceChain(server);
    const path = (id: string) =>
      ({
        index: 1,
        pathSegments: [
          { name: 'nsc', id: 'member-1' },
          { name: 'nse', id },
        ],
      }) as never;
    const old = await chain.request(background(), request({ id: 'p1', path: path('p1') }));
    const healed = await chain.request(background(), request({ id: 'p2', path: path('p2') }));
    assert.deepEqual(
      healed.context?.ipContext?.srcIpAddrs,
      old.context?.ipContext?.srcIpAddrs,
      'same member, same address',
    );
    await chain.close(background(), old);
    assert.equal(addresses.size, 1, 'the healed path keeps it');
    await chain.close(background(), healed);
    assert.equal(addresses.size, 0);
  });

  it('answers a peer replica with routes to each other slice', async () => {
    const chain = newNetworkServiceChain(setup().server);
    const req = withSrc('peer', ['172.16.7.1/32']);
    req.connection!.labels = { [vl3ipam.PEER_LABEL]: '172.16.7.0/24' };
    const ip = (await chain.request(background(), req)).context!.ipContext!;
    assert.deepEqual(ip.dstIpAddrs, ['172.16.3.1/32']);
    assert.deepEqual(ip.srcRoutes, [{ prefix: '172.16.3.0/24', nextHop: '172.16.3.1' }]);
    assert.deepEqual(ip.dstRoutes, [{ prefix: '172.16.7.0/24', nextHop: '172.16.7.1' }]);
  });

  it('frees the address on close and when the first request fails further down', async () => {
    const { addresses, server } = setup();
    const chain = newNetworkServiceChain(server, injectError({ requestTimes: [1] }));
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /injected/);
    assert.equal(addresses.size, 0);
    const b = await chain.request(background(), request({ id: 'b' }));
    await chain.close(background(), b);
    assert.equal(addresses.size, 0);
  });

  it('fails with RESOURCE_EXHAUSTED naming the slice when it is full', async () => {
    const chain = newNetworkServiceChain(setup('172.16.3.0/30').server);
    await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(
      chain.request(background(), request({ id: 'b' })),
      (e: unknown) =>
        isNsmError(e) && e.code === status.RESOURCE_EXHAUSTED && /172\.16\.3\.0\/30/.test(e.message),
    );
  });
});
