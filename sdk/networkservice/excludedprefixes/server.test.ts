import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { isNsmError } from '../../errors/index.js';
import { checkRequest, recorder } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import * as point2pointipam from '../ipam/point2pointipam/index.js';
import * as excludedprefixes from './index.js';

describe('excludedprefixes server', () => {
  it("adds the node's prefixes to the request and gives the client its own list back", async () => {
    const seen: string[][] = [];
    const chain = newNetworkServiceChain(
      excludedprefixes.newServer({
        source: excludedprefixes.staticPrefixes(['10.96.0.0/12', '10.0.0.0/30']),
      }),
      checkRequest((_ctx, req) => seen.push([...req.connection!.context!.ipContext!.excludedPrefixes])),
      point2pointipam.newServer(['10.0.0.0/29']),
    );
    const req = request({ id: 'a' });
    req.connection!.context = {
      ipContext: { ...point2pointipam.emptyIpContext(), excludedPrefixes: ['10.0.0.0/30'] },
    } as never;
    const conn = await chain.request(background(), req);
    assert.deepEqual(seen, [['10.0.0.0/30', '10.96.0.0/12']]);
    assert.deepEqual(conn.context?.ipContext?.dstIpAddrs, ['10.0.0.4/32'], 'the IPAM kept out of them');
    assert.deepEqual(conn.context?.ipContext?.excludedPrefixes, ['10.0.0.0/30']);
  });

  it('fails with FAILED_PRECONDITION naming the prefixes when the endpoint hands out an excluded address, and closes it', async () => {
    const downstream = recorder();
    const chain = newNetworkServiceChain(
      excludedprefixes.newServer({ source: excludedprefixes.staticPrefixes(['172.16.0.0/12']) }),
      downstream,
      {
        // An endpoint that ignores excluded_prefixes.
        async request(_ctx, req) {
          req.connection!.context!.ipContext!.srcIpAddrs = ['172.16.1.101/32'];
          return req.connection!;
        },
        close: async () => {},
      },
    );
    await assert.rejects(
      chain.request(background(), request({ id: 'a' })),
      (e: unknown) =>
        isNsmError(e) &&
        e.code === status.FAILED_PRECONDITION &&
        /172\.16\.1\.101\/32 \(in 172\.16\.0\.0\/12\)/.test(e.message),
    );
    assert.deepEqual(downstream.ops(), ['request a', 'close a']);
  });

  it('exhausts with RESOURCE_EXHAUSTED when the excluded prefixes cover the whole pool', async () => {
    const chain = newNetworkServiceChain(
      excludedprefixes.newServer({ source: excludedprefixes.staticPrefixes(['10.0.0.0/29']) }),
      point2pointipam.newServer(['10.0.0.0/29']),
    );
    await assert.rejects(
      chain.request(background(), request({ id: 'a' })),
      (e: unknown) =>
        isNsmError(e) && e.code === status.RESOURCE_EXHAUSTED && /excluded prefixes/.test(e.message),
    );
  });

  it('takes a changed list on the next request', async () => {
    let list = ['10.0.0.0/31'];
    const chain = newNetworkServiceChain(
      excludedprefixes.newServer({ source: { current: () => list, close: () => {} } }),
      point2pointipam.newServer(['10.0.0.0/29']),
    );
    const a = await chain.request(background(), request({ id: 'a' }));
    assert.deepEqual(a.context?.ipContext?.dstIpAddrs, ['10.0.0.2/32']);
    list = ['10.0.0.0/30'];
    const again = await chain.request(background(), { connection: a, mechanismPreferences: [] });
    assert.deepEqual(
      again.context?.ipContext?.dstIpAddrs,
      ['10.0.0.4/32'],
      'moved out of the newly excluded range',
    );
  });

  const routeCases: { name: string; routes: string[]; want?: RegExp }[] = [
    {
      name: 'a route covering an excluded prefix',
      routes: ['10.0.0.0/8'],
      want: /routes overlapping the excluded prefixes: 10\.0\.0\.0\/8 \(in 10\.96\.0\.0\/12\)/,
    },
    {
      name: 'a route inside an excluded prefix',
      routes: ['10.100.0.0/16'],
      want: /10\.100\.0\.0\/16 \(in 10\.96\.0\.0\/12\)/,
    },
    { name: 'a default route (the exception)', routes: ['0.0.0.0/0'] },
    { name: 'a route around the excluded prefix', routes: ['172.16.0.0/16', '10.0.0.0/10'] },
  ];
  for (const c of routeCases) {
    it(`${c.want ? 'refuses' : 'accepts'} ${c.name}${c.want ? ' with FAILED_PRECONDITION, and closes it' : ''}`, async () => {
      const downstream = recorder();
      const chain = newNetworkServiceChain(
        excludedprefixes.newServer({ source: excludedprefixes.staticPrefixes(['10.96.0.0/12']) }),
        downstream,
        {
          async request(_ctx, req) {
            const ip = req.connection!.context!.ipContext!;
            ip.srcIpAddrs = ['172.16.1.2/32'];
            ip.srcRoutes = c.routes.map((prefix) => ({ prefix, nextHop: '' }));
            return req.connection!;
          },
          close: async () => {},
        },
      );
      const got = chain.request(background(), request({ id: 'a' }));
      if (!c.want) return void (await got);
      await assert.rejects(
        got,
        (e: unknown) => isNsmError(e) && e.code === status.FAILED_PRECONDITION && c.want!.test(e.message),
      );
      assert.deepEqual(downstream.ops(), ['request a', 'close a']);
    });
  }
});
