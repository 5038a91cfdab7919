import assert from 'node:assert/strict';
import { State } from '../../../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { NsmError } from '../../errors/index.js';
import { FakeClock, fakeContext } from '../../testing/clock.js';
import { ns, nse, request } from '../../testing/connections.js';
import { fakeFinder } from '../../testing/registry.js';
import { clientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';
import * as discoverforwarder from './index.js';

const NSMGR_URL = 'tcp://10.0.0.1:5001';

/** A forwarder as the nsmgr registry answers it: with its own socket URL (localbypass restores it). */
function forwarder(name: string, labels: Record<string, string> = { p2p: 'true' }): NetworkServiceEndpoint {
  return nse(name, { networkServiceNames: ['forwarder'], networkServiceLabels: { forwarder: { labels } } });
}

/** The next hop: records the URL of each call; fails for URLs in `failing`. */
function hop(failing: Set<string>) {
  const calls: string[] = [];
  const el: NetworkServiceElement = {
    async request(ctx, req) {
      const url = clientURL(ctx) ?? '';
      calls.push(`request ${url.replace(/^unix:\/\/\/var\/lib\/nsm\/|\.sock$/g, '')}`);
      if (failing.has(url)) throw new NsmError(14, `${url} is down`);
      return req.connection!;
    },
    async close(ctx, _conn) {
      calls.push(`close ${(clientURL(ctx) ?? 'no-url').replace(/^unix:\/\/\/var\/lib\/nsm\/|\.sock$/g, '')}`);
    },
  };
  return { el, calls };
}

function setup(forwarders: NetworkServiceEndpoint[], services = [ns('icmp')]) {
  // Forwarders are stored under this nsmgr's URL; like localbypass, Find answers with their own URL.
  const finder = fakeFinder(services, forwarders);
  const queries: Partial<NetworkServiceEndpoint>[] = [];
  const find = finder.endpoints.bind(finder);
  finder.endpoints = async (ctx, template) => {
    queries.push(structuredClone(template));
    if (template.url !== undefined && template.url !== NSMGR_URL) return [];
    return find(ctx, { ...template, url: undefined });
  };
  const failing = new Set<string>();
  const h = hop(failing);
  const chain = newNetworkServiceChain(
    metadata.newServer(),
    discoverforwarder.newServer({ finder, nsmgrURL: NSMGR_URL }),
    h.el,
  );
  const fail = (name: string) => failing.add(`unix:///var/lib/nsm/${name}.sock`);
  return { chain, calls: h.calls, queries, fail };
}

/** A request as nsmgr sees it: nsc, then nsmgr (current), optionally the forwarder of an earlier path. */
function nsmgrRequest(id: string, nextHop?: string, state = State.UP) {
  const pathSegments = [
    { name: 'nsc', id: `${id}-nsc` },
    { name: 'nsmgr', id },
    ...(nextHop ? [{ name: nextHop, id: `${id}-fwd` }] : []),
  ];
  return request({ id, state, path: { index: 1, pathSegments } });
}

describe('discoverforwarder server', () => {
  it('asks for the forwarders registered through this nsmgr', async () => {
    const { chain, queries, calls } = setup([forwarder('fwd-a')]);
    await chain.request(background(), nsmgrRequest('c1'));
    assert.deepEqual(queries, [{ networkServiceNames: ['forwarder'], url: NSMGR_URL }]);
    assert.deepEqual(calls, ['request fwd-a']);
  });

  it('fails with UNAVAILABLE when no forwarder is registered within NO_FORWARDER_WAIT_MS', async () => {
    const { chain, queries } = setup([]);
    const clock = new FakeClock();
    const failed = assert.rejects(
      chain.request(fakeContext(clock), nsmgrRequest('c1')),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 14);
        assert.match(e.message, /no forwarder is registered on this node/);
        return true;
      },
    );
    await clock.advanceAsync(discoverforwarder.NO_FORWARDER_WAIT_MS);
    await failed;
    assert.equal(
      queries.length,
      discoverforwarder.NO_FORWARDER_WAIT_MS / discoverforwarder.LOOKUP_RETRY_MS + 1,
    );
  });

  it('waits for a forwarder that registers again (this nsmgr resumed after its registration lapsed)', async () => {
    const forwarders: NetworkServiceEndpoint[] = [];
    const { chain, calls } = setup(forwarders);
    const clock = new FakeClock();
    const done = chain.request(fakeContext(clock), nsmgrRequest('c1'));
    await clock.advanceAsync(discoverforwarder.LOOKUP_RETRY_MS * 3);
    assert.deepEqual(calls, []);
    forwarders.push(forwarder('fwd-a'));
    await clock.advanceAsync(discoverforwarder.LOOKUP_RETRY_MS);
    await done;
    assert.deepEqual(calls, ['request fwd-a']);
  });

  it('uses only forwarders that satisfy the service forwarder selector', async () => {
    const service = ns('icmp', { matches: [{ metadata: { labels: { dp: 'fast' } }, routes: [] }] });
    const { chain, calls } = setup(
      [forwarder('slow', { dp: 'slow' }), forwarder('fast', { dp: 'fast' })],
      [service],
    );
    await chain.request(background(), nsmgrRequest('c1'));
    assert.deepEqual(calls, ['request fast']);
  });

  it('fails with NOT_FOUND naming the labels when no forwarder satisfies the selector', async () => {
    const service = ns('icmp', { matches: [{ metadata: { labels: { dp: 'none' } }, routes: [] }] });
    const { chain } = setup([forwarder('slow', { dp: 'slow' })], [service]);
    await assert.rejects(chain.request(background(), nsmgrRequest('c1')), (e: Error & { code?: number }) => {
      assert.equal(e.code, 5);
      assert.match(
        e.message,
        /no forwarder on this node has the labels \{"dp":"none"\} that network service "icmp" selects \(forwarders: slow \{"dp":"slow"\}\)/,
      );
      return true;
    });
  });

  it('fails over to the next forwarder, and reports when all failed', async () => {
    const { chain, calls, fail } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    fail('fwd-a');
    await chain.request(background(), nsmgrRequest('c1'));
    assert.deepEqual(calls, ['request fwd-a', 'request fwd-b']);
    fail('fwd-b');
    await assert.rejects(
      chain.request(background(), nsmgrRequest('c2')),
      /^NsmError: all forwarders have failed: fwd-a: .*; fwd-b: /,
    );
  });

  it('prefers the forwarder named in the next path segment', async () => {
    const { chain, calls } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    await chain.request(background(), nsmgrRequest('c1', 'fwd-b'));
    assert.deepEqual(calls, ['request fwd-b']);
  });

  it('sticks to its choice for the connection, without asking the registry again', async () => {
    const { chain, calls, queries, fail } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    await chain.request(background(), nsmgrRequest('c1'));
    fail('fwd-a');
    await assert.rejects(chain.request(background(), nsmgrRequest('c1')), /fwd-a\.sock is down/);
    assert.deepEqual(calls, ['request fwd-a', 'request fwd-a']);
    assert.equal(queries.length, 1);
  });

  it('drops its choice on reselect and chooses again', async () => {
    const { chain, calls, fail } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    await chain.request(background(), nsmgrRequest('c1'));
    fail('fwd-a');
    await chain.request(background(), nsmgrRequest('c1', undefined, State.RESELECT_REQUESTED));
    assert.deepEqual(calls, ['request fwd-a', 'request fwd-a', 'request fwd-b']);
    await chain.request(background(), nsmgrRequest('c1'));
    assert.equal(calls.at(-1), 'request fwd-b', 'the new choice sticks');
  });

  it('closes through the forwarder it chose', async () => {
    const { chain, calls, fail } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    fail('fwd-a');
    const conn = await chain.request(background(), nsmgrRequest('c1'));
    await chain.close(background(), conn);
    assert.equal(calls.at(-1), 'close fwd-b');
  });

  it('after a restart, closes through the forwarder the path names', async () => {
    const { chain, calls } = setup([forwarder('fwd-a'), forwarder('fwd-b')]);
    await chain.close(background(), nsmgrRequest('c1', 'fwd-b').connection!);
    assert.deepEqual(calls, ['close fwd-b']);
  });

  it('still closes down the chain when it cannot tell the forwarder', async () => {
    const { chain, calls } = setup([forwarder('fwd-a')]);
    await chain.close(background(), nsmgrRequest('c1', 'unknown-fwd').connection!);
    await chain.close(background(), nsmgrRequest('c2').connection!);
    assert.deepEqual(calls, ['close no-url', 'close no-url']);
  });
});
