import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import { type Peer, withPeer } from '../../tools/unixpeer/index.js';
import * as allowpeer from './index.js';

const NSMGR_PID = 42;
const req = { connection: { id: 'c', networkService: 's' } as never, mechanismPreferences: [] };

function setup() {
  let asked = 0;
  const c = newNetworkServiceChain(
    allowpeer.newServer({
      listensOn: '/run/nsm/nsm.io.sock',
      listens: async (pid, path) => {
        asked++;
        return pid === NSMGR_PID && path === '/run/nsm/nsm.io.sock';
      },
    }),
    { request: async (_c, r) => r.connection!, close: async () => {} },
  );
  return { c, asked: () => asked };
}
const peer = (pid: number): Peer => ({
  transport: 'unix',
  path: '/run/nsm/fwd.sock',
  pids: async () => [pid],
});

describe('allowpeer server', () => {
  it('serves the process listening on the nsmgr socket, asking /proc once per connection', async () => {
    const { c, asked } = setup();
    const ctx = withPeer(background(), peer(NSMGR_PID));
    await c.request(ctx, req);
    await c.request(ctx, req);
    await c.close(ctx, req.connection);
    assert.equal(asked(), 1);
  });

  it('refuses any other process, Request and Close, with PERMISSION_DENIED', async () => {
    const { c } = setup();
    const ctx = withPeer(background(), peer(7));
    for (const call of [() => c.request(ctx, req), () => c.close(ctx, req.connection)]) {
      await assert.rejects(call(), (e: unknown) => {
        assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
        assert.match(
          String(e),
          /only the nsmgr on \/run\/nsm\/nsm\.io\.sock may call, and the calling process does not listen there/,
        );
        return true;
      });
    }
  });

  it('refuses a tcp peer and passes an in-process call', async () => {
    const { c } = setup();
    await assert.rejects(
      c.request(withPeer(background(), { transport: 'tcp', address: '1.2.3.4:5' }), req),
      /not a tcp peer/,
    );
    await c.request(background(), req);
  });
});
