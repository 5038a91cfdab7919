import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import { getErrorCode } from '../../../errors/index.js';
import { request } from '../../../testing/connections.js';
import { injectError } from '../../../testing/inject.js';
import * as point2pointipam from './index.js';

describe('point2pointipam server', () => {
  it('gives a connection the endpoint and client addresses with host routes to each other', async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['172.16.1.100/31']));
    const conn = await chain.request(background(), request({ id: 'a' }));
    const ip = conn.context?.ipContext;
    assert.deepEqual(ip?.dstIpAddrs, ['172.16.1.100/32']);
    assert.deepEqual(ip?.srcIpAddrs, ['172.16.1.101/32']);
    assert.deepEqual(
      ip?.srcRoutes.map((r) => r.prefix),
      ['172.16.1.100/32'],
    );
    assert.deepEqual(
      ip?.dstRoutes.map((r) => r.prefix),
      ['172.16.1.101/32'],
    );
  });

  it('keeps the addresses across refreshes and gives other connections different ones', async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['10.0.0.0/29']));
    const a = await chain.request(background(), request({ id: 'a' }));
    const again = await chain.request(background(), { connection: a, mechanismPreferences: [] });
    const b = await chain.request(background(), request({ id: 'b' }));
    assert.deepEqual(again.context?.ipContext?.srcIpAddrs, a.context?.ipContext?.srcIpAddrs);
    const used = [a, b].flatMap((c) => [
      ...c.context!.ipContext!.srcIpAddrs,
      ...c.context!.ipContext!.dstIpAddrs,
    ]);
    assert.equal(new Set(used).size, 4);
  });

  it('frees the addresses on close', async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['172.16.1.100/31']));
    const a = await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(
      chain.request(background(), request({ id: 'b' })),
      (e: Error & { code?: number }) => e.code === 8,
    );
    await chain.close(background(), a);
    const b = await chain.request(background(), request({ id: 'b' }));
    assert.deepEqual(b.context?.ipContext?.srcIpAddrs, ['172.16.1.101/32']);
  });

  it('frees the addresses even when close fails further down', async () => {
    const chain = newNetworkServiceChain(
      point2pointipam.newServer(['172.16.1.100/31']),
      injectError({ requestTimes: [], closeTimes: [1] }),
    );
    const a = await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(chain.close(background(), a), /injected/);
    await chain.request(background(), request({ id: 'b' }));
  });

  it('frees the addresses when the first request fails further down', async () => {
    const chain = newNetworkServiceChain(
      point2pointipam.newServer(['172.16.1.100/31']),
      injectError({ requestTimes: [1] }),
    );
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /injected/);
    const b = await chain.request(background(), request({ id: 'b' }));
    assert.deepEqual(b.context?.ipContext?.dstIpAddrs, ['172.16.1.100/32']);
  });

  it('keeps the addresses when a refresh fails further down', async () => {
    const chain = newNetworkServiceChain(
      point2pointipam.newServer(['172.16.1.100/31']),
      injectError({ requestTimes: [2] }),
    );
    const a = await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(
      chain.request(background(), { connection: a, mechanismPreferences: [] }),
      /injected/,
    );
    await assert.rejects(
      chain.request(background(), request({ id: 'b' })),
      (e: Error & { code?: number }) => e.code === 8,
    );
  });

  it('avoids the excluded prefixes of the request', async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['10.0.0.0/29']));
    const req = request({ id: 'a' });
    req.connection!.context = {
      ipContext: { ...point2pointipam.emptyIpContext(), excludedPrefixes: ['10.0.0.0/30'] },
      dnsContext: undefined,
      ethernetContext: undefined,
      extraContext: {},
      MTU: 0,
    };
    const conn = await chain.request(background(), req);
    assert.deepEqual(conn.context?.ipContext?.dstIpAddrs, ['10.0.0.4/32']);
    assert.deepEqual(conn.context?.ipContext?.srcIpAddrs, ['10.0.0.5/32']);
  });

  it('refuses a malformed CIDR when it is built', () => {
    assert.throws(
      () => point2pointipam.newServer(['not-a-cidr']),
      (e: Error & { code?: number }) => e.code === 3,
    );
  });
});

describe('point2pointipam server: the endpoint side and the per-client bound', () => {
  const withPath = (id: string, client: string) => {
    const r = request({ id });
    r.connection!.path = {
      index: 0,
      pathSegments: [{ name: client, id, token: '', expires: undefined, metrics: {} }],
    };
    return r;
  };

  it("ignores the client's destination addresses outside the pool and all its destination routes", async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['172.16.1.100/31']));
    const req = request({ id: 'a' });
    req.connection!.context = {
      ipContext: {
        ...point2pointipam.emptyIpContext(),
        dstIpAddrs: ['10.9.9.9/24'],
        dstRoutes: [
          { prefix: '0.0.0.0/0', nextHop: '172.16.1.101', nextHops: [] },
          { prefix: '192.168.0.0/16', nextHop: '', nextHops: [] },
        ],
      },
    } as never;
    const conn = await chain.request(background(), req);
    assert.deepEqual(conn.context?.ipContext?.dstIpAddrs, ['172.16.1.100/32']);
    assert.deepEqual(
      conn.context?.ipContext?.dstRoutes.map((r) => `${r.prefix} via ${r.nextHop || '-'}`),
      ['172.16.1.101/32 via -'],
    );
  });

  it('lets one client hold at most maxLeasesPerClient connections; others still get addresses; close frees', async () => {
    const chain = newNetworkServiceChain(
      point2pointipam.newServer(['10.0.0.0/24'], { maxLeasesPerClient: 3 }),
    );
    const held = [];
    for (const i of [1, 2, 3]) held.push(await chain.request(background(), withPath(`m${i}`, 'mallory')));
    await assert.rejects(chain.request(background(), withPath('m4', 'mallory')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.RESOURCE_EXHAUSTED);
      assert.match(String(e), /client "mallory" already holds 3/);
      return true;
    });
    await chain.request(background(), withPath('a1', 'alice'));
    await chain.request(background(), { connection: held[0], mechanismPreferences: [] }); // a refresh is no new lease
    await chain.close(background(), held[0]);
    await chain.request(background(), withPath('m4', 'mallory'));
  });

  it('bounds a client at half of the pool by default', async () => {
    const chain = newNetworkServiceChain(point2pointipam.newServer(['10.0.0.0/29'])); // 4 pairs
    await chain.request(background(), withPath('m1', 'mallory'));
    await chain.request(background(), withPath('m2', 'mallory'));
    await assert.rejects(chain.request(background(), withPath('m3', 'mallory')), /already holds 2/);
    await chain.request(background(), withPath('a1', 'alice'));
  });
});
