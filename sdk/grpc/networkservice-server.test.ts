import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import {
  type ConnectionEvent,
  ConnectionEventType,
  MonitorScopeSelector,
} from '../../api/gen/networkservice/connection.js';
import { background, type Context, withCancel, withTimeout } from '../core/context.js';
import * as next from '../core/next.js';
import { newNetworkServiceChain } from '../core/next.js';
import type { NetworkServiceElement } from '../core/types.js';
import { NsmError } from '../errors/index.js';
import * as monitor from '../networkservice/monitor/index.js';
import { recorder } from '../testing/checks.js';
import { pathOf, request } from '../testing/connections.js';
import { eventually, tick } from '../testing/eventually.js';
import { type LeakCheck, snapshot } from '../testing/leaks.js';
import { peerToken } from '../tools/token/index.js';
import { peerFrom } from '../tools/unixpeer/index.js';
import { ClientPool } from './client-pool.js';
import { serveInProcess } from './in-process.js';
import { listen, shutdown } from './listen.js';
import { addNetworkServiceServices } from './networkservice-server.js';

/** Answers with a label; fails as the request labels ask; waits for cancellation when asked. */
function behaving(seen: Context[]): NetworkServiceElement {
  return {
    async request(ctx, req) {
      seen.push(ctx);
      const conn = req.connection!;
      if (conn.labels.fail === 'nsm') throw new NsmError(grpc.status.PERMISSION_DENIED, 'not for you');
      if (conn.labels.fail === 'plain') throw new Error('something broke');
      if (conn.labels.wait === 'cancel') {
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
        throw new Error('cancelled');
      }
      if (conn.labels.wait === 'outlive') {
        // Finishes the work only after the caller gave up.
        await new Promise((r) => ctx.signal.addEventListener('abort', r, { once: true }));
      }
      conn.labels.served = 'yes';
      return next.server(ctx).request(ctx, req);
    },
    async close(ctx, conn) {
      seen.push(ctx);
      if (conn.labels.fail === 'nsm') throw new NsmError(grpc.status.FAILED_PRECONDITION, 'cannot close');
      return next.server(ctx).close(ctx, conn);
    },
  };
}

function hasStatus(code: grpc.status, message: RegExp) {
  return (e: Error & { code?: number }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  };
}

// Every case runs twice: over gRPC (a unix socket), and in process (in-process.ts), which must look
// the same to both sides.
for (const transport of ['grpc', 'in-process'] as const)
  describe(`networkservice server over ${transport}`, () => {
    let dir: string;
    let url: string;
    let server: grpc.Server;
    let pool: ClientPool;
    let connections: monitor.ConnectionMonitor;
    let rec: ReturnType<typeof recorder>;
    let seen: Context[];
    let leaks: LeakCheck;
    let served: ReturnType<typeof withCancel> | undefined;
    let stopInProcess = () => {};

    // One server for the suite; `after` checks that closing it left no socket or timer behind.
    before(async () => {
      await tick();
      leaks = snapshot();
      dir = mkdtempSync(join(tmpdir(), 'nsm-grpc-test-'));
      url = `unix://${join(dir, 'nsm.sock')}`;
      connections = new monitor.ConnectionMonitor();
      server = new grpc.Server();
      seen = [];
      rec = recorder();
      const chain = newNetworkServiceChain(rec, behaving(seen), monitor.newServer(connections));
      addNetworkServiceServices(server, chain, connections);
      await listen(server, [url]);
      if (transport === 'in-process') {
        served = withCancel(background());
        stopInProcess = serveInProcess(url, {
          chain,
          monitor: connections,
          visibleTo: async () => () => true,
          base: served.ctx,
        });
      }
      pool = new ClientPool();
    });

    after(async () => {
      stopInProcess();
      served?.cancel();
      await pool.close();
      await shutdown(server);
      rmSync(dir, { recursive: true, force: true });
      await leaks.verify(3_000);
    });

    beforeEach(() => {
      rec.calls.length = 0;
      seen.length = 0;
    });

    it('serves Request through the chain and returns its connection', async () => {
      const conn = await pool.request(background(), url, request({ id: 'c1', labels: { app: 'x' } }));
      assert.equal(conn.id, 'c1');
      assert.deepEqual(conn.labels, { app: 'x', served: 'yes' });
      assert.deepEqual(rec.ops(), ['request c1']);
    });

    it('serves Close through the chain', async () => {
      await pool.closeConnection(background(), url, request({ id: 'c1' }).connection!);
      assert.deepEqual(rec.ops(), ['close c1']);
    });

    it("sends the current segment's token and expiry as upstream's call metadata; the server reads them", async () => {
      const expires = new Date(Date.UTC(2030, 0, 1, 0, 0, 0, 250));
      const req = request({
        id: 'c5',
        path: { index: 0, pathSegments: [{ name: 'nsc', id: 'c5', token: 'tok-5', expires }] },
      });
      await pool.request(background(), url, req);
      assert.deepEqual(peerToken(seen[0]), {
        ok: true,
        value: { token: 'tok-5', expiresMs: expires.getTime() },
      });
      await pool.closeConnection(background(), url, req.connection!);
      assert.deepEqual(peerToken(seen[1]), {
        ok: true,
        value: { token: 'tok-5', expiresMs: expires.getTime() },
      });
      await pool.request(background(), url, request({ id: 'c6' }));
      assert.deepEqual(peerToken(seen[2]), { ok: true, value: undefined }, 'no token yet: no metadata');
    });

    it('delivers an NsmError thrown in the chain with its status code and message', async () => {
      await assert.rejects(
        pool.request(background(), url, request({ id: 'c2', labels: { fail: 'nsm' } })),
        hasStatus(grpc.status.PERMISSION_DENIED, new RegExp(`^failed to request at ${url}: not for you$`)),
      );
      await assert.rejects(
        pool.closeConnection(background(), url, request({ id: 'c2', labels: { fail: 'nsm' } }).connection!),
        hasStatus(grpc.status.FAILED_PRECONDITION, /: cannot close$/),
      );
    });

    it('delivers any other error as UNKNOWN with its message', async () => {
      await assert.rejects(
        pool.request(background(), url, request({ id: 'c3', labels: { fail: 'plain' } })),
        hasStatus(grpc.status.UNKNOWN, /: something broke$/),
      );
    });

    it('refuses an invalid request before the chain sees it', async () => {
      await assert.rejects(
        pool.request(background(), url, request({ id: 'c4', networkService: 'bad\nname' })),
        hasStatus(
          grpc.status.INVALID_ARGUMENT,
          /request\.connection\.network_service contains control characters/,
        ),
      );
      await assert.rejects(
        pool.request(
          background(),
          url,
          request({ id: 'c4' }, [{ cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'a\u0000' } }]),
        ),
        hasStatus(
          grpc.status.INVALID_ARGUMENT,
          /request\.mechanism_preferences\[0\]\.mechanism\.parameters\["name"\] contains control/,
        ),
      );
      await assert.rejects(
        pool.request(background(), url, request({ id: 'c4', networkService: '' })),
        hasStatus(grpc.status.INVALID_ARGUMENT, /request\.connection\.network_service is empty/),
      );
      const noConnection = request();
      noConnection.connection = undefined;
      await assert.rejects(
        pool.request(background(), url, noConnection),
        hasStatus(grpc.status.INVALID_ARGUMENT, /request\.connection is missing/),
      );
      await assert.rejects(
        pool.closeConnection(background(), url, request({ id: '' }).connection!),
        hasStatus(grpc.status.INVALID_ARGUMENT, /connection\.id is missing/),
      );
      assert.deepEqual(rec.calls, []);
    });

    it('gives the chain the caller deadline', async () => {
      const { ctx, cancel } = withTimeout(background(), 5_000);
      await pool.request(ctx, url, request({ id: 'c5' }));
      cancel();
      assert.ok(seen[0].deadline !== undefined, 'the server context has a deadline');
      assert.ok(
        Math.abs(seen[0].deadline! - ctx.deadline!) < 1_000,
        `${seen[0].deadline} vs ${ctx.deadline}`,
      );
    });

    it('aborts the chain context when the caller cancels', async () => {
      const caller = withCancel(background());
      const pending = pool.request(caller.ctx, url, request({ id: 'c6', labels: { wait: 'cancel' } }));
      await eventually(() => assert.equal(seen.length, 1));
      caller.cancel();
      await assert.rejects(pending, hasStatus(grpc.status.CANCELLED, /failed to request/));
      await eventually(() => assert.equal(seen[0].signal.aborted, true));
    });

    it('closes a new connection whose caller gave up while it was set up', async () => {
      const caller = withCancel(background());
      const pending = pool.request(caller.ctx, url, request({ id: 'gone', labels: { wait: 'outlive' } }));
      await eventually(() => assert.equal(seen.length, 1));
      caller.cancel();
      await assert.rejects(pending, hasStatus(grpc.status.CANCELLED, /failed to request/));
      await eventually(() => assert.deepEqual(rec.ops(), ['request gone', 'close gone']));
      assert.equal(connections.get('gone'), undefined);
    });

    it('keeps a connection it held when a refresh of it is given up (a stale replay)', async () => {
      // Our segment after the caller's: what a refresh carries once the first request went through.
      const held = { ...pathOf(['client', 'us'], 0), networkService: 'kept' };
      const ourId = held.path!.pathSegments![1].id!;
      await pool.request(background(), url, request({ ...held, id: ourId }));
      assert.ok(connections.get(ourId));
      const caller = withCancel(background());
      const pending = pool.request(
        caller.ctx,
        url,
        request({ ...held, id: ourId, labels: { wait: 'outlive' } }),
      );
      await eventually(() => assert.equal(seen.length, 2));
      caller.cancel();
      await assert.rejects(pending, hasStatus(grpc.status.CANCELLED, /failed to request/));
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        rec.ops(),
        [`request ${ourId}`, `request ${ourId}`],
        'no Close of the connection in use',
      );
      assert.ok(connections.get(ourId), 'still held');
      await pool.closeConnection(background(), url, request({ ...held, id: ourId }).connection!);
    });

    it('refuses a call on an already cancelled context without sending it', async () => {
      const caller = withCancel(background());
      caller.cancel();
      await assert.rejects(pool.request(caller.ctx, url, request({ id: 'c7' })), /context cancelled/);
      assert.deepEqual(rec.calls, []);
    });

    it("takes an initial state larger than gRPC's default 4 MiB (a relay to a hop holding ~1000 connections)", async () => {
      // Signed path tokens carry their signer's certificate: ~1.1 KiB each, four to six per connection.
      const token = 'x'.repeat(1100);
      for (let i = 0; i < 1000; i++) {
        const c = request({ id: `big-${i}`, networkService: 'big' }).connection!;
        const segments = ['nsc', 'nsmgr', 'fwd', 'nse'].map((name) => ({ name, id: `${name}-${i}`, token }));
        c.path = { index: 1, pathSegments: segments.map((x) => ({ ...x, expires: undefined, metrics: {} })) };
        connections.update(c);
      }
      try {
        const ev = await new Promise<ConnectionEvent>((resolve, reject) => {
          const stream = pool.monitor(
            url,
            MonitorScopeSelector.fromPartial({ networkServices: ['big'] }),
            (e) => {
              void stream.close();
              resolve(e);
            },
            reject,
          );
        });
        assert.equal(Object.keys(ev.connections).length, 1000);
      } finally {
        for (let i = 0; i < 1000; i++) connections.delete(request({ id: `big-${i}` }).connection!);
      }
    });

    it('streams MonitorConnections: the initial state first, then updates and deletes', async () => {
      await pool.request(background(), url, request({ id: 'm-before', networkService: 'watched' }));
      const events: ConnectionEvent[] = [];
      let ended: Error | undefined;
      const stream = pool.monitor(
        url,
        MonitorScopeSelector.fromPartial({ networkServices: ['watched'] }),
        (e) => events.push(e),
        (err) => {
          ended = err;
        },
      );
      try {
        await eventually(() => assert.equal(events.length, 1));
        assert.equal(events[0].type, ConnectionEventType.INITIAL_STATE_TRANSFER);
        assert.deepEqual(Object.keys(events[0].connections), ['m-before']);
        await pool.request(background(), url, request({ id: 'm-other', networkService: 'unwatched' }));
        await pool.request(background(), url, request({ id: 'm-new', networkService: 'watched' }));
        await pool.closeConnection(
          background(),
          url,
          request({ id: 'm-before', networkService: 'watched' }).connection!,
        );
        await eventually(() => assert.equal(events.length, 3));
        assert.deepEqual(
          events.slice(1).map((e) => `${ConnectionEventType[e.type]} ${Object.keys(e.connections)}`),
          ['UPDATE m-new', 'DELETE m-before'],
        );
      } finally {
        await stream.close();
      }
      await pool.closeConnection(
        background(),
        url,
        request({ id: 'm-new', networkService: 'watched' }).connection!,
      );
      await pool.closeConnection(
        background(),
        url,
        request({ id: 'm-other', networkService: 'unwatched' }).connection!,
      );
      assert.equal(ended, undefined, 'a cancelled stream does not report an end');
    });

    it('stops sending to a monitor stream the client cancelled', async () => {
      const events: ConnectionEvent[] = [];
      const stream = pool.monitor(
        url,
        MonitorScopeSelector.fromPartial({}),
        (e) => events.push(e),
        () => {},
      );
      await eventually(() => assert.equal(events.length, 1));
      await stream.close();
      await pool.request(background(), url, request({ id: 'm-late' }));
      await pool.closeConnection(background(), url, request({ id: 'm-late' }).connection!);
      assert.equal(events.length, 1);
    });
    it('shows the chain who called: the unix socket, this process at the other end', async () => {
      await pool.request(background(), url, request({ id: 'p1' }));
      const peer = peerFrom(seen[0]);
      assert.equal(peer?.transport, 'unix');
      if (peer?.transport !== 'unix') return;
      assert.equal(`unix://${peer.path}`, url);
      assert.deepEqual(await peer.pids(), [process.pid]);
      await pool.closeConnection(background(), url, request({ id: 'p1' }).connection!);
    });

    it('gives each side its own copy of the messages, as the wire does', async () => {
      const req = request({ id: 'copy', labels: { app: 'x' } });
      const conn = await pool.request(background(), url, req);
      assert.deepEqual(
        req.connection!.labels,
        { app: 'x' },
        "the server's change did not reach the caller's request",
      );
      conn.labels.app = 'changed';
      assert.equal(connections.get('copy')?.labels.app, 'x', "the caller's change did not reach the server");
      await pool.closeConnection(background(), url, conn);
    });

    it("fails with DEADLINE_EXCEEDED when the caller's deadline passes, and aborts the chain", async () => {
      const caller = withTimeout(background(), 50);
      await assert.rejects(
        pool.request(caller.ctx, url, request({ id: 'slow', labels: { wait: 'cancel' } })),
        hasStatus(grpc.status.DEADLINE_EXCEEDED, /failed to request/),
      );
      caller.cancel();
      await eventually(() => assert.equal(seen[0].signal.aborted, true));
    });
    if (transport === 'in-process') {
      it('ends an in-process monitor stream when its server closes; a stopped server is no longer reached', async () => {
        const gone = `unix://${join(dir, 'closing.sock')}`;
        const base = withCancel(background());
        const stop = serveInProcess(gone, {
          chain: newNetworkServiceChain(monitor.newServer(connections)),
          monitor: connections,
          visibleTo: async () => () => true,
          base: base.ctx,
        });
        const events: ConnectionEvent[] = [];
        const ended = new Promise<Error>((resolve) => {
          pool.monitor(gone, MonitorScopeSelector.fromPartial({}), (e) => events.push(e), resolve);
        });
        await eventually(() => assert.equal(events.length, 1));
        base.cancel();
        const err = (await ended) as Error & { code?: number };
        assert.equal(err.code, grpc.status.UNAVAILABLE);
        assert.match(err.message, /shutting down/);
        stop();
        await assert.rejects(
          pool.request(withTimeout(background(), 2_000).ctx, gone, request({ id: 'after' })),
          hasStatus(grpc.status.UNAVAILABLE, /failed to request at/),
        );
      });
    }
  });
