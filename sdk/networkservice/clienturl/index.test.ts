import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { checkContext } from '../../testing/checks.js';
import { request } from '../../testing/connections.js';
import * as clienturl from './index.js';

describe('clienturl client', () => {
  it('puts its URL into the context of request and close for the elements after it', async () => {
    const seen: (string | undefined)[] = [];
    const chain = newNetworkServiceChain(
      checkContext((c) => seen.push(clienturl.clientURL(c))),
      clienturl.newClient('unix:///var/lib/nsm/nsm.io.sock'),
      checkContext((c) => seen.push(clienturl.clientURL(c))),
    );
    const conn = await chain.request(background(), request({ id: 'a' }));
    await chain.close(background(), conn);
    assert.deepEqual(seen, [
      undefined,
      'unix:///var/lib/nsm/nsm.io.sock',
      undefined,
      'unix:///var/lib/nsm/nsm.io.sock',
    ]);
  });

  it('replaces a URL set earlier', () => {
    const ctx = clienturl.withClientURL(clienturl.withClientURL(background(), 'tcp://a:1'), 'tcp://b:2');
    assert.equal(clienturl.clientURL(ctx), 'tcp://b:2');
    assert.equal(clienturl.clientURL(background()), undefined);
  });
});
