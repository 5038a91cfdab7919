import assert from 'node:assert/strict';
import { background, type Context, withCancel } from '../../../core/context.js';
import type { Connection, NetworkServiceRequest } from '../../../core/types.js';
import type { ClientPool } from '../../../grpc/client-pool.js';
import { checkRequest } from '../../../testing/checks.js';
import { request } from '../../../testing/connections.js';
import * as client from './index.js';

/** A pool stand-in: records the calls that would go over gRPC and answers as a one-hop nsmgr. */
function fakePool() {
  const calls: { op: string; url: string; req?: NetworkServiceRequest }[] = [];
  const pool = {
    async request(_ctx: Context, url: string, req: NetworkServiceRequest): Promise<Connection> {
      calls.push({ op: 'request', url, req: structuredClone(req) });
      return structuredClone(req.connection!);
    },
    async closeConnection(_ctx: Context, url: string): Promise<void> {
      calls.push({ op: 'close', url });
    },
  };
  return { pool: pool as unknown as ClientPool, calls };
}

describe('client chain', () => {
  it('sends the request, with its own signed path segment, to connectTo after its own elements', async () => {
    const { pool, calls } = fakePool();
    const order: string[] = [];
    const c = client.newClient({
      name: 'nsc-1',
      connectTo: 'unix:///nsm.sock',
      pool,
      refresh: false,
      additionalFunctionality: [checkRequest(() => order.push('additional'))],
    });
    const { ctx, cancel } = withCancel(background());
    try {
      const conn = await c.request(ctx, request({ id: 'a' }));
      assert.deepEqual(order, ['additional']);
      assert.equal(calls.length, 1);
      assert.equal(calls[0].url, 'unix:///nsm.sock');
      const sent = calls[0].req!.connection!;
      assert.equal(sent.path!.index, 0);
      assert.equal(sent.path!.pathSegments[0].name, 'nsc-1');
      assert.ok(sent.path!.pathSegments[0].token, 'token set');
      await c.close(ctx, conn);
      assert.deepEqual(
        calls.map((x) => `${x.op} ${x.url}`),
        ['request unix:///nsm.sock', 'close unix:///nsm.sock'],
      );
    } finally {
      cancel();
    }
  });

  it('refuses to be built without a name or an nsmgr URL', () => {
    const { pool } = fakePool();
    assert.throws(() => client.newClient({ name: '', connectTo: 'unix:///x', pool }), /a name is required/);
    assert.throws(() => client.newClient({ name: 'a', connectTo: '', pool }), /connectTo/);
  });
});
