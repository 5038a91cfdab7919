import assert from 'node:assert/strict';
import { background, type Context, withCancel } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { Connection, NetworkServiceRequest } from '../../core/types.js';
import type { ClientPool } from '../../grpc/client-pool.js';
import { checkClose, checkRequest, recorder } from '../../testing/checks.js';
import { pathOf, request } from '../../testing/connections.js';
import { eventually } from '../../testing/eventually.js';
import * as clienturl from '../clienturl/index.js';
import * as connect from './index.js';

/** A ClientPool stand-in that records calls and answers requests with a marked copy. */
function fakePool(opts: { fail?: Error } = {}) {
  const calls: string[] = [];
  const pool = {
    async request(_ctx: Context, url: string, req: NetworkServiceRequest): Promise<Connection> {
      calls.push(`request ${url} ${req.connection?.id}`);
      if (opts.fail) throw opts.fail;
      return { ...structuredClone(req.connection!), labels: { ...req.connection!.labels, via: url } };
    },
    async closeConnection(_ctx: Context, url: string, conn: Connection): Promise<void> {
      calls.push(`close ${url} ${conn.id}`);
    },
  };
  return { pool: pool as unknown as ClientPool, calls };
}

describe('connect server', () => {
  it('sends the request to the URL in the context and returns the answer', async () => {
    const { pool, calls } = fakePool();
    const chain = newNetworkServiceChain(clienturl.newClient('unix:///fwd.sock'), connect.newServer(pool));
    const conn = await chain.request(background(), request({ id: 'a' }));
    assert.equal(conn.labels.via, 'unix:///fwd.sock');
    assert.deepEqual(calls, ['request unix:///fwd.sock a']);
  });

  it('fails with INTERNAL when nothing chose a next hop', async () => {
    const { pool, calls } = fakePool();
    const chain = newNetworkServiceChain(connect.newServer(pool));
    await assert.rejects(
      async () => chain.request(background(), request({ id: 'a' })),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, 13);
        assert.match(e.message, /no next-hop URL/);
        return true;
      },
    );
    assert.deepEqual(calls, []);
  });

  // Regression test for a fixed bug: GrpcCall.request (sdk/networkservice/connect/server.ts) is not async, so with no URL in the
  // context it throws synchronously instead of returning a rejected promise, and the throw travels
  // synchronously through every non-async link (Linked.request in core/next.ts). A caller that writes
  // `chain.request(ctx, req).catch(...)` or `Promise.allSettled([...])` crashes instead. Fix: declare it
  // `async request(ctx, req)` (the `return this.pool.request(...)` stays as it is).
  it('reports a missing next hop as a rejected promise, not a synchronous throw', async () => {
    const { pool } = fakePool();
    const chain = newNetworkServiceChain(connect.newServer(pool));
    let pending: Promise<unknown> | undefined;
    assert.doesNotThrow(() => {
      pending = chain.request(background(), request({ id: 'a' }));
    });
    await assert.rejects(pending!, /no next-hop URL/);
  });

  // The next hop's answer and our cancel can cross on the wire: it may hold a connection we never got.
  const gaveUp = [
    {
      name: 'closes a new connection whose Request it gave up on',
      patch: pathOf(['nsc', 'nsmgr']),
      closes: true,
    },
    {
      name: 'leaves a refresh it gave up on alone (the connection is still in use)',
      patch: pathOf(['nsc', 'nsmgr', 'forwarder'], 1),
      closes: false,
    },
  ];
  for (const c of gaveUp) {
    it(c.name, async () => {
      const { pool, calls } = fakePool({ fail: new Error('cancelled') });
      const chain = newNetworkServiceChain(clienturl.newClient('unix:///fwd.sock'), connect.newServer(pool));
      const caller = withCancel(background());
      caller.cancel();
      await assert.rejects(chain.request(caller.ctx, request(c.patch)), /cancelled/);
      const want = [`request unix:///fwd.sock ${c.patch.id}`];
      if (c.closes) want.push(`close unix:///fwd.sock ${c.patch.id}`);
      await eventually(() => assert.deepEqual(calls, want));
    });
  }

  it('does not close a new connection the next hop refused while we still waited', async () => {
    const { pool, calls } = fakePool({ fail: new Error('peer said no') });
    const chain = newNetworkServiceChain(clienturl.newClient('unix:///fwd.sock'), connect.newServer(pool));
    const patch = pathOf(['nsc', 'nsmgr']);
    await assert.rejects(chain.request(background(), request(patch)), /peer said no/);
    assert.deepEqual(calls, [`request unix:///fwd.sock ${patch.id}`]);
  });

  it('passes the failure of the next hop on', async () => {
    const { pool } = fakePool({ fail: new Error('peer said no') });
    const chain = newNetworkServiceChain(clienturl.newClient('tcp://peer:5001'), connect.newServer(pool));
    await assert.rejects(chain.request(background(), request({ id: 'a' })), /peer said no/);
  });

  it('runs its client elements before the call, on request and close', async () => {
    const { pool, calls } = fakePool();
    const seen: string[] = [];
    const chain = newNetworkServiceChain(
      clienturl.newClient('unix:///fwd.sock'),
      connect.newServer(
        pool,
        checkRequest((_c, req) => {
          seen.push(`client request ${req.connection?.id}`);
          req.connection!.labels.fromClient = 'yes';
        }),
        checkClose((_c, conn) => seen.push(`client close ${conn.id}`)),
      ),
    );
    const conn = await chain.request(background(), request({ id: 'a' }));
    assert.equal(conn.labels.fromClient, 'yes');
    await chain.close(background(), conn);
    assert.deepEqual(seen, ['client request a', 'client close a']);
    assert.deepEqual(calls, ['request unix:///fwd.sock a', 'close unix:///fwd.sock a']);
  });

  it('closes the next hop and then continues down the server chain', async () => {
    const { pool, calls } = fakePool();
    const after = recorder();
    const chain = newNetworkServiceChain(
      clienturl.newClient('unix:///fwd.sock'),
      connect.newServer(pool),
      after,
    );
    await chain.close(background(), request({ id: 'a' }).connection!);
    assert.deepEqual(calls, ['close unix:///fwd.sock a']);
    assert.deepEqual(after.ops(), ['close a']);
  });

  it('still continues down the server chain when there is no next hop to close', async () => {
    const { pool, calls } = fakePool();
    const after = recorder();
    const chain = newNetworkServiceChain(connect.newServer(pool), after);
    await chain.close(background(), request({ id: 'a' }).connection!);
    assert.deepEqual(calls, []);
    assert.deepEqual(after.ops(), ['close a']);
  });

  it('continues down the server chain even when closing the next hop fails', async () => {
    const after = recorder();
    const failing = {
      request: async () => {
        throw new Error('unused');
      },
      closeConnection: async () => {
        throw new Error('peer gone');
      },
    } as unknown as ClientPool;
    const chain = newNetworkServiceChain(
      clienturl.newClient('unix:///fwd.sock'),
      connect.newServer(failing),
      after,
    );
    await assert.rejects(chain.close(background(), request({ id: 'a' }).connection!), /peer gone/);
    assert.deepEqual(after.ops(), ['close a']);
  });

  it('does not run the server chain after it on request (it is the last element)', async () => {
    const { pool } = fakePool();
    const after = recorder();
    const chain = newNetworkServiceChain(
      clienturl.newClient('unix:///fwd.sock'),
      connect.newServer(pool),
      after,
    );
    await chain.request(background(), request({ id: 'a' }));
    assert.deepEqual(after.ops(), []);
  });
});
