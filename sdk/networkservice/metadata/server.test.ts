import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { request } from '../../testing/connections.js';
import { injectError } from '../../testing/inject.js';
import * as metadata from './index.js';

const KEY = Symbol('counter');

/** Counts requests per connection in the server half and stores the count in the client half too. */
function counter(seen: { server?: number; client?: number }[]): NetworkServiceElement {
  return {
    request(ctx, req) {
      const n = (metadata.load<number>(ctx, false, KEY) ?? 0) + 1;
      metadata.store(ctx, false, KEY, n);
      seen.push({ server: n, client: metadata.load<number>(ctx, true, KEY) });
      metadata.store(ctx, true, KEY, n * 100);
      return next.server(ctx).request(ctx, req);
    },
    close(ctx, conn) {
      seen.push({
        server: metadata.loadAndDelete<number>(ctx, false, KEY),
        client: metadata.load(ctx, true, KEY),
      });
      return next.server(ctx).close(ctx, conn);
    },
  };
}

describe('metadata server', () => {
  it('keeps per-connection state across requests, separately for each connection', async () => {
    const seen: { server?: number; client?: number }[] = [];
    const chain = newNetworkServiceChain(metadata.newServer(), counter(seen));
    await chain.request(background(), request({ id: 'a' }));
    await chain.request(background(), request({ id: 'a' }));
    await chain.request(background(), request({ id: 'b' }));
    assert.deepEqual(seen, [
      { server: 1, client: undefined },
      { server: 2, client: 100 },
      { server: 1, client: undefined },
    ]);
  });

  it('keeps the client and server halves apart', async () => {
    const seen: { server?: number; client?: number }[] = [];
    const chain = newNetworkServiceChain(metadata.newServer(), counter(seen));
    await chain.request(background(), request({ id: 'a' }));
    await chain.close(background(), request({ id: 'a' }).connection!);
    assert.deepEqual(seen[1], { server: 1, client: 100 });
  });

  it('drops the state of a connection on close', async () => {
    const seen: { server?: number; client?: number }[] = [];
    const md = metadata.newServer();
    const chain = newNetworkServiceChain(md, counter(seen));
    await chain.request(background(), request({ id: 'a' }));
    assert.equal(md.size, 1);
    await chain.close(background(), request({ id: 'a' }).connection!);
    assert.equal(md.size, 0);
    await chain.request(background(), request({ id: 'a' }));
    assert.equal(seen.at(-1)?.server, 1);
  });

  it('drops the state even when close fails further down', async () => {
    const md = metadata.newServer();
    const chain = newNetworkServiceChain(md, injectError({ requestTimes: [], closeTimes: [1] }));
    await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(chain.close(background(), request({ id: 'a' }).connection!), /injected error/);
    assert.equal(md.size, 0);
  });

  it('drops the state when the first request fails', async () => {
    const md = metadata.newServer();
    const chain = newNetworkServiceChain(md, injectError({ requestTimes: [1] }));
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /injected error/);
    assert.equal(md.size, 0);
  });

  it('keeps the state when a later request (a refresh) fails', async () => {
    const seen: { server?: number; client?: number }[] = [];
    const md = metadata.newServer();
    const chain = newNetworkServiceChain(md, counter(seen), injectError({ requestTimes: [2] }));
    await chain.request(background(), request({ id: 'a' }));
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /injected error/);
    assert.equal(md.size, 1);
    await chain.request(background(), request({ id: 'a' }));
    assert.equal(seen.at(-1)?.server, 3);
  });

  it('makes map() throw for an element with no metadata element before it', () => {
    assert.throws(() => metadata.map(background(), false), /no metadata element before this one/);
  });
});
