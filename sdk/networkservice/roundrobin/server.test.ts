import assert from 'node:assert/strict';
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background, withCancel } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { NsmError } from '../../errors/index.js';
import { nse, request } from '../../testing/connections.js';
import { clientURL } from '../clienturl/index.js';
import { withCandidates } from '../discover/index.js';
import * as metadata from '../metadata/index.js';
import * as roundrobin from './index.js';

/** The next hop: records which endpoint and URL each call went to; fails for URLs in `failing`. */
function hop(failing: Set<string> = new Set(), code = 14) {
  const calls: string[] = [];
  const el: NetworkServiceElement = {
    async request(ctx, req) {
      const url = clientURL(ctx) ?? '';
      calls.push(`request ${req.connection?.networkServiceEndpointName} ${url}`);
      if (failing.has(url)) throw new NsmError(code, `${url} is down`);
      return req.connection!;
    },
    async close(ctx, conn) {
      calls.push(`close ${conn.networkServiceEndpointName} ${clientURL(ctx) ?? 'no-url'}`);
    },
  };
  return { el, calls };
}

/** Gives roundrobin its candidates (what discover does). */
function candidatesFrom(nses: NetworkServiceEndpoint[]): NetworkServiceElement {
  return {
    request: (ctx, req) => next.server(ctx).request(withCandidates(ctx, nses), req),
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
}

const three = [nse('a'), nse('b'), nse('c')];
const url = (n: string) => `unix:///var/lib/nsm/${n}.sock`;

function setup(nses = three, failing: string[] = [], code?: number) {
  const h = hop(new Set(failing.map(url)), code);
  const chain = newNetworkServiceChain(
    metadata.newServer(),
    candidatesFrom(nses),
    roundrobin.newServer(),
    h.el,
  );
  return { chain, calls: h.calls };
}

describe('roundrobin server', () => {
  it('rotates through the candidates, one step per new connection', async () => {
    const { chain, calls } = setup();
    const names: string[] = [];
    for (const id of ['1', '2', '3', '4']) {
      names.push((await chain.request(background(), request({ id }))).networkServiceEndpointName);
    }
    assert.deepEqual(names, ['a', 'b', 'c', 'a']);
    assert.deepEqual(calls[0], `request a ${url('a')}`);
  });

  it('keeps a separate rotation per network service', async () => {
    const { chain } = setup();
    const pick = async (id: string, networkService: string) =>
      (await chain.request(background(), request({ id, networkService }))).networkServiceEndpointName;
    assert.equal(await pick('1', 'icmp'), 'a');
    assert.equal(await pick('2', 'icmp'), 'b');
    assert.equal(await pick('3', 'other'), 'a');
    assert.equal(await pick('4', 'icmp'), 'c');
  });

  it('leaves the rotation where it was for a request with one candidate (a refresh, a named endpoint)', async () => {
    let offered = three;
    const h = hop();
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      {
        request: (ctx, req) => next.server(ctx).request(withCandidates(ctx, offered), req),
        close: h.el.close,
      },
      roundrobin.newServer(),
      h.el,
    );
    const pick = async (id: string) =>
      (await chain.request(background(), request({ id }))).networkServiceEndpointName;
    assert.equal(await pick('1'), 'a');
    offered = [nse('c')];
    assert.equal(await pick('2'), 'c');
    assert.equal(await pick('3'), 'c');
    offered = three;
    assert.equal(await pick('4'), 'b', 'the next in turn after a');
  });

  it('fails over to the next candidate', async () => {
    const { chain, calls } = setup(three, ['a']);
    const conn = await chain.request(background(), request({ id: '1' }));
    assert.equal(conn.networkServiceEndpointName, 'b');
    assert.deepEqual(calls, [`request a ${url('a')}`, `request b ${url('b')}`]);
  });

  it('reports "all candidates have failed" with every failure and the last code', async () => {
    const { chain, calls } = setup(three, ['a', 'b', 'c'], 5);
    await assert.rejects(
      chain.request(background(), request({ id: '1' })),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 5);
        assert.match(
          e.message,
          /^all candidates have failed: a: .*a\.sock is down; b: .*; c: .*c\.sock is down$/,
        );
        return true;
      },
    );
    assert.equal(calls.length, 3);
  });

  const single: {
    name: string;
    url: string;
    code: number;
    wantCode: number;
    want: RegExp;
    /** What the registry says about another endpoint (absent: the option is not given). */
    another?: () => Promise<boolean>;
  }[] = [
    {
      name: 'passes the error of a single remote candidate on as it is',
      url: 'tcp://10.0.0.2:5001',
      code: 14,
      wantCode: 14,
      want: /^tcp:\/\/10\.0\.0\.2:5001 is down$/,
    },
    {
      name: 'passes a non-UNAVAILABLE error of a single local candidate on as it is',
      url: url('a'),
      code: 7,
      wantCode: 7,
      want: /^unix:.*a\.sock is down$/,
    },
    {
      name: 'reports a single local candidate that is UNAVAILABLE as NOT_FOUND (gone, so reselect)',
      url: url('a'),
      code: 14,
      wantCode: 5,
      want: /^network service endpoint "a" is not reachable: unix:.*a\.sock is down$/,
    },
    {
      name: 'reports it as NOT_FOUND when the registry names another endpoint',
      url: url('a'),
      code: 14,
      wantCode: 5,
      want: /^network service endpoint "a" is not reachable/,
      another: async () => true,
    },
    {
      name: 'keeps it UNAVAILABLE (repair, not reselect to nothing) when no other endpoint serves the service',
      url: url('a'),
      code: 14,
      wantCode: 14,
      want: /^unix:.*a\.sock is down$/,
      another: async () => false,
    },
    {
      name: 'keeps it UNAVAILABLE when the registry does not answer',
      url: url('a'),
      code: 14,
      wantCode: 14,
      want: /^unix:.*a\.sock is down$/,
      another: async () => {
        throw new Error('registry down');
      },
    },
  ];
  for (const c of single) {
    it(c.name, async () => {
      const h = hop(new Set([c.url]), c.code);
      const chain = newNetworkServiceChain(
        metadata.newServer(),
        candidatesFrom([nse('a', { url: c.url })]),
        roundrobin.newServer(c.another ? { anotherEndpoint: c.another } : {}),
        h.el,
      );
      await assert.rejects(
        chain.request(background(), request({ id: '1' })),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, c.wantCode);
          assert.match(e.message, c.want);
          return true;
        },
      );
    });
  }

  it('stops trying when the request is cancelled', async () => {
    const caller = withCancel(background());
    const calls: string[] = [];
    const cancelling: NetworkServiceElement = {
      async request(_ctx, req) {
        calls.push(req.connection!.networkServiceEndpointName);
        caller.cancel();
        throw new Error('cancelled');
      },
      close: async () => {},
    };
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      candidatesFrom(three),
      roundrobin.newServer(),
      cancelling,
    );
    await assert.rejects(
      chain.request(caller.ctx, request({ id: '1' })),
      /all candidates have failed: a: cancelled$/,
    );
    assert.deepEqual(calls, ['a']);
  });

  it('fails with INTERNAL without candidates', async () => {
    const chain = newNetworkServiceChain(metadata.newServer(), roundrobin.newServer());
    await assert.rejects(
      chain.request(background(), request({ id: '1' })),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 13);
        assert.match(e.message, /no candidates/);
        return true;
      },
    );
  });

  it('closes at the URL of the endpoint it chose', async () => {
    const { chain, calls } = setup(three, ['a']);
    const conn = await chain.request(background(), request({ id: '1' }));
    await chain.close(background(), conn);
    assert.equal(calls.at(-1), `close b ${url('b')}`);
  });

  it('closes without a URL a connection it did not choose', async () => {
    const { chain, calls } = setup();
    await chain.close(background(), request({ id: 'unknown' }).connection!);
    assert.deepEqual(calls, ['close  no-url']);
  });
});
