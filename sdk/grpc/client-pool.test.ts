import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { type ConnectionEvent, MonitorScopeSelector } from '../../api/gen/networkservice/connection.js';
import { background, type Context, withCancel, withTimeout } from '../core/context.js';
import { newNetworkServiceChain } from '../core/next.js';
import type { NetworkServiceElement } from '../core/types.js';
import { getErrorCode, isNsmError, NsmError } from '../errors/index.js';
import * as clienturl from '../networkservice/clienturl/index.js';
import * as connect from '../networkservice/connect/index.js';
import * as monitor from '../networkservice/monitor/index.js';
import { request } from '../testing/connections.js';
import { eventually } from '../testing/eventually.js';
import { verifyNoLeaks } from '../testing/leaks.js';
import { ClientPool } from './client-pool.js';
import { addNetworkServiceServices } from './networkservice-server.js';
import { type Served, serve } from './server.js';

/** A chain that holds every Request until its context is aborted, and says when it was. */
function holding() {
  const arrived: Context[] = [];
  let aborted = 0;
  const element: NetworkServiceElement = {
    request: (ctx) =>
      new Promise((_resolve, reject) => {
        arrived.push(ctx);
        ctx.signal.addEventListener('abort', () => {
          aborted++;
          reject(new Error('aborted'));
        });
      }),
    close: async () => {},
  };
  return {
    element,
    arrived,
    get aborted() {
      return aborted;
    },
  };
}

function failing(message: string, code = grpc.status.NOT_FOUND): NetworkServiceElement {
  return {
    request: async () => {
      throw new NsmError(code, message);
    },
    close: async () => {},
  };
}

/** Serves `chain` on a fresh unix socket. */
async function serveChain(dir: string, name: string, chain: NetworkServiceElement): Promise<Served> {
  return serve({
    listenOn: [`unix://${join(dir, `${name}.sock`)}`],
    register: (s, ctx) => addNetworkServiceServices(s, chain, new monitor.ConnectionMonitor(), ctx),
  });
}

function expectCode(code: grpc.status, message?: RegExp) {
  return (e: unknown) => {
    assert.ok(isNsmError(e), `an NsmError, got ${String(e)}`);
    assert.equal(grpc.status[getErrorCode(e)], grpc.status[code], (e as Error).message);
    if (message) assert.match((e as Error).message, message);
    return true;
  };
}

describe('grpc client pool', () => {
  let dir: string;
  let pool: ClientPool;
  const servers: Served[] = [];

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-pool-test-'));
    pool = new ClientPool();
  });
  afterEach(async () => {
    await pool.close();
    await Promise.all(servers.splice(0).map((s) => s.close()));
    rmSync(dir, { recursive: true, force: true });
  });
  verifyNoLeaks(3_000); // after the afterEach above: mocha runs them in order

  it('keeps one channel per URL', async () => {
    const s = await serveChain(dir, 'a', newNetworkServiceChain());
    servers.push(s);
    await pool.request(background(), s.urls[0], request({ id: 'a' }));
    await pool.request(background(), s.urls[0], request({ id: 'b' }));
    assert.equal(pool.size, 1);
  });

  it('refuses use after close with FAILED_PRECONDITION', async () => {
    await pool.close();
    await assert.rejects(
      pool.request(background(), 'unix:///nowhere.sock', request({ id: 'a' })),
      expectCode(grpc.status.FAILED_PRECONDITION, /the client pool is closed/),
    );
  });

  it('fails a call to a socket nobody serves with UNAVAILABLE', async () => {
    const { ctx, cancel } = withTimeout(background(), 2_000);
    try {
      await assert.rejects(
        pool.request(ctx, `unix://${join(dir, 'nobody.sock')}`, request({ id: 'x' })),
        expectCode(grpc.status.UNAVAILABLE, /^failed to request at unix:/),
      );
    } finally {
      cancel();
    }
  });

  it("gives the caller CANCELLED, with the caller's stack, when it cancels", async () => {
    const held = holding();
    const s = await serveChain(dir, 'held', newNetworkServiceChain(held.element));
    servers.push(s);
    const { ctx, cancel } = withCancel(background());
    async function theCallerOfRequest() {
      return pool.request(ctx, s.urls[0], request({ id: 'c' }));
    }
    const pending = theCallerOfRequest();
    await eventually(() => assert.equal(held.arrived.length, 1));
    cancel(new Error('the user pressed Ctrl-C'));
    await assert.rejects(pending, (e: unknown) => {
      expectCode(grpc.status.CANCELLED, /^failed to request at unix:.*: the user pressed Ctrl-C$/)(e);
      const stack = (e as Error).stack ?? '';
      assert.match(stack, /theCallerOfRequest/);
      assert.doesNotMatch(stack, /@grpc\/grpc-js/);
      return true;
    });
    await eventually(() => assert.equal(held.aborted, 1, 'the server saw the cancel'));
  });

  it('gives the caller DEADLINE_EXCEEDED when its deadline passes', async () => {
    const held = holding();
    const s = await serveChain(dir, 'held', newNetworkServiceChain(held.element));
    servers.push(s);
    const { ctx, cancel } = withTimeout(background(), 300);
    try {
      await assert.rejects(
        pool.request(ctx, s.urls[0], request({ id: 'd' })),
        expectCode(grpc.status.DEADLINE_EXCEEDED, /^failed to request at unix:/),
      );
    } finally {
      cancel();
    }
  });

  it('fails a call whose context is already cancelled without sending it', async () => {
    const held = holding();
    const s = await serveChain(dir, 'held', newNetworkServiceChain(held.element));
    servers.push(s);
    const { ctx, cancel } = withCancel(background());
    cancel();
    await assert.rejects(
      pool.request(ctx, s.urls[0], request({ id: 'e' })),
      expectCode(grpc.status.CANCELLED),
    );
    assert.equal(held.arrived.length, 0);
  });

  it('adds one "failed to request at <url>" per hop, and the cause once', async () => {
    // client -> a -> b -> c, where c fails: every hop forwards with connect through its own pool.
    const c = await serveChain(dir, 'c', newNetworkServiceChain(failing('no such endpoint')));
    const bPool = new ClientPool();
    const b = await serveChain(
      dir,
      'b',
      newNetworkServiceChain(clienturl.newClient(c.urls[0]), connect.newServer(bPool)),
    );
    const aPool = new ClientPool();
    const a = await serveChain(
      dir,
      'a',
      newNetworkServiceChain(clienturl.newClient(b.urls[0]), connect.newServer(aPool)),
    );
    servers.push(a, b, c);
    try {
      await assert.rejects(pool.request(background(), a.urls[0], request({ id: 'f' })), (e: unknown) => {
        expectCode(grpc.status.NOT_FOUND)(e);
        assert.equal(
          (e as Error).message,
          `failed to request at ${a.urls[0]}: failed to request at ${b.urls[0]}: ` +
            `failed to request at ${c.urls[0]}: no such endpoint`,
        );
        return true;
      });
    } finally {
      await aPool.close();
      await bPool.close();
    }
  });

  it('reports the end of a monitor stream whose server went away, and nothing after close()', async () => {
    const s = await serveChain(dir, 'm', newNetworkServiceChain());
    const events: ConnectionEvent[] = [];
    const ends: Error[] = [];
    pool.monitor(
      s.urls[0],
      MonitorScopeSelector.fromPartial({}),
      (e) => events.push(e),
      (err) => ends.push(err),
    );
    const closedEnds: Error[] = [];
    const closed = pool.monitor(
      s.urls[0],
      MonitorScopeSelector.fromPartial({}),
      () => {},
      (err) => closedEnds.push(err),
    );
    await eventually(() => assert.equal(events.length, 1));
    await closed.close();
    await s.close();
    await eventually(() => assert.equal(ends.length, 1));
    assert.equal(getErrorCode(ends[0]), grpc.status.UNAVAILABLE, ends[0].message);
    assert.deepEqual(closedEnds, []);
  });
});
