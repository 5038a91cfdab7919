import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { MonitorScopeSelector } from '../../api/gen/networkservice/connection.js';
import { background, type Context, withCancel } from '../core/context.js';
import { newNetworkServiceChain } from '../core/next.js';
import { getErrorCode } from '../errors/index.js';
import * as monitor from '../networkservice/monitor/index.js';
import { request } from '../testing/connections.js';
import { eventually } from '../testing/eventually.js';
import { verifyNoLeaks } from '../testing/leaks.js';
import { ClientPool } from './client-pool.js';
import { contextFromCall } from './context.js';
import { addNetworkServiceServices } from './networkservice-server.js';
import { SHUTDOWN_GRACE_MS, serve } from './server.js';

/** Just enough of a grpc-js server call for contextFromCall. */
function fakeCall(deadline: Date | number = Number.POSITIVE_INFINITY) {
  const call = Object.assign(new EventEmitter(), {
    cancelled: false,
    getDeadline: () => deadline,
    getPeer: () => '127.0.0.1:1',
    metadata: new grpc.Metadata(),
  });
  return call as unknown as ServerSurfaceCall & EventEmitter;
}

describe('contextFromCall', () => {
  it('is aborted when the caller cancels', () => {
    const call = fakeCall();
    const { ctx } = contextFromCall(call);
    assert.equal(ctx.signal.aborted, false);
    call.emit('cancelled');
    assert.equal(ctx.signal.aborted, true);
    assert.equal(getErrorCode(ctx.signal.reason), grpc.status.CANCELLED);
  });

  it('is aborted when its base is (the server is closing)', () => {
    const { ctx: base, cancel } = withCancel(background());
    const { ctx } = contextFromCall(fakeCall(), base);
    cancel(new Error('the server is shutting down'));
    assert.equal(ctx.signal.aborted, true);
    assert.match(String(ctx.signal.reason), /shutting down/);
  });

  it('no longer follows its base once the call is done, and stays as it is', () => {
    const { ctx: base, cancel } = withCancel(background());
    const { ctx, done } = contextFromCall(fakeCall(), base);
    done();
    assert.equal(ctx.signal.aborted, false, 'done does not abort the call context');
    cancel(new Error('the server is shutting down'));
    assert.equal(ctx.signal.aborted, false, 'a finished call is not aborted with its server');
  });

  it("is not aborted by the 'cancelled' grpc-js emits after it answered", () => {
    const call = fakeCall();
    const { ctx, done } = contextFromCall(call);
    done();
    call.emit('cancelled');
    assert.equal(ctx.signal.aborted, false);
    assert.equal(call.listenerCount('cancelled'), 0);
  });

  it("keeps base's values and takes the earlier of the two deadlines", () => {
    const key = Symbol('k');
    const base: Context = { ...background(), values: new Map([[key, 'v']]), deadline: Date.now() + 60_000 };
    const soon = Date.now() + 1_000;
    const { ctx } = contextFromCall(fakeCall(new Date(soon)), base);
    assert.equal(ctx.values.get(key), 'v');
    assert.equal(ctx.deadline, soon);
    assert.equal(contextFromCall(fakeCall(), base).ctx.deadline, base.deadline);
  });
});

describe('serve', () => {
  let dir: string;
  let pool: ClientPool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-serve-test-'));
    pool = new ClientPool();
  });
  afterEach(async () => {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  });
  verifyNoLeaks(3_000);

  it('cancels requests in flight and ends monitor streams when it closes, without waiting the grace period', async () => {
    const arrived: Context[] = [];
    const holding = {
      request: (ctx: Context) =>
        new Promise<never>((_resolve, reject) => {
          arrived.push(ctx);
          ctx.signal.addEventListener('abort', () => reject(ctx.signal.reason));
        }),
      close: async () => {},
    };
    const connections = new monitor.ConnectionMonitor();
    const server = await serve({
      listenOn: [`unix://${join(dir, 's.sock')}`],
      register: (s, ctx) => addNetworkServiceServices(s, newNetworkServiceChain(holding), connections, ctx),
    });
    const url = server.urls[0];
    const ends: Error[] = [];
    let events = 0;
    pool.monitor(
      url,
      MonitorScopeSelector.fromPartial({}),
      () => events++,
      (e) => ends.push(e),
    );
    const pending = pool.request(background(), url, request({ id: 'in-flight' }));
    pending.catch(() => {}); // asserted below
    await eventually(() => assert.equal(arrived.length, 1));
    await eventually(() => assert.equal(events, 1));

    const started = Date.now();
    await server.close();
    assert.ok(Date.now() - started < SHUTDOWN_GRACE_MS, `closed in ${Date.now() - started} ms`);
    assert.equal(arrived[0].signal.aborted, true, 'the chain saw the request cancelled');
    await assert.rejects(pending, /failed to request at unix:.*shutting down/);
    await eventually(() => assert.equal(ends.length, 1));
    assert.equal(getErrorCode(ends[0]), grpc.status.UNAVAILABLE);
  });
});
