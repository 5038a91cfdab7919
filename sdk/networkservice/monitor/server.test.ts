import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { request } from '../../testing/connections.js';
import { injectError } from '../../testing/inject.js';
import * as monitor from './index.js';

describe('monitor server', () => {
  it('records a connection once the rest of the chain returned it', async () => {
    const m = new monitor.ConnectionMonitor();
    const chain = newNetworkServiceChain(monitor.newServer(m), {
      request: async (_ctx, req) => ({ ...req.connection!, labels: { answered: 'yes' } }),
      close: async () => {},
    });
    await chain.request(background(), request({ id: 'a' }));
    assert.deepEqual(m.get('a')?.labels, { answered: 'yes' });
  });

  it('records nothing when the request fails', async () => {
    const m = new monitor.ConnectionMonitor();
    const chain = newNetworkServiceChain(monitor.newServer(m), injectError());
    await assert.rejects(chain.request(background(), request({ id: 'a' })));
    assert.equal(m.list().length, 0);
  });

  it('forgets a connection on close, also when close fails further down', async () => {
    const m = new monitor.ConnectionMonitor();
    const chain = newNetworkServiceChain(
      monitor.newServer(m),
      injectError({ requestTimes: [], closeTimes: [2] }),
    );
    await chain.request(background(), request({ id: 'a' }));
    await chain.request(background(), request({ id: 'b' }));
    await chain.close(background(), request({ id: 'a' }).connection!);
    await assert.rejects(chain.close(background(), request({ id: 'b' }).connection!), /injected/);
    assert.equal(m.list().length, 0);
  });
});
