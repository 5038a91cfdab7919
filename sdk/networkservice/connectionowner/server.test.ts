import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { background, type Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { getErrorCode } from '../../errors/index.js';
import { pathOf, request } from '../../testing/connections.js';
import { withPeer as withTlsPeer } from '../../tools/spiffe/peer.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { type Peer, withPeer } from '../../tools/unixpeer/index.js';
import * as endpoint from '../chains/endpoint/index.js';
import * as monitor from '../monitor/index.js';
import * as updatepath from '../updatepath/index.js';
import type { ProcessOwner } from './index.js';
import * as connectionowner from './index.js';

const tcp = (address: string) => withPeer(background(), { transport: 'tcp', address });
const alice = tcp('10.0.0.1:40000');
const mallory = tcp('10.0.0.2:40000');

/** Fake /proc: pid → namespace and uid. */
const procs: Record<number, { netns: string; uid: number }> = {
  101: { netns: 'inode://4/1', uid: 1000 },
  102: { netns: 'inode://4/1', uid: 1000 }, // alice again, another process (a restart)
  201: { netns: 'inode://4/2', uid: 1000 }, // another pod, same uid
  301: { netns: 'inode://4/1', uid: 0 }, // root in alice's pod
  401: { netns: 'inode://4/host', uid: 0 }, // root on the host: an operator
};
const processOwner: ProcessOwner = async (pid) =>
  pid === process.pid || pid === 1 ? procs[401] : procs[pid];
const unix = (...pids: number[]) => {
  const peer: Peer = { transport: 'unix', path: '/nsm.sock', pids: async () => pids };
  return withPeer(background(), peer);
};

function hop(unixOwnership: 'process' | 'socket' = 'process') {
  const calls = { request: 0, close: 0 };
  const tail: NetworkServiceElement = {
    async request(_ctx, req) {
      calls.request++;
      return req.connection!;
    },
    async close(ctx, conn) {
      calls.close++;
      return next.server(ctx).close(ctx, conn);
    },
  };
  const ep = endpoint.newServer({
    name: 'nsmgr',
    unixOwnership,
    processOwner,
    additionalFunctionality: [tail],
  });
  return { ep, calls };
}

const refused = (what: RegExp) => (e: unknown) => {
  assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
  assert.match(String(e), what);
  return true;
};

async function visible(ep: endpoint.Endpoint, ctx: Context): Promise<string[]> {
  // What a MonitorConnections caller gets as its INITIAL_STATE_TRANSFER.
  const see = await ep.visibleTo(ctx);
  return ep.monitor
    .list()
    .filter(see)
    .map((c) => c.id);
}

describe('connectionowner server', () => {
  it("sees the caller's connection in the caller's view too (what the timeout asks about while holding it)", async () => {
    const { ep } = hop();
    const answered = await ep.request(alice, request(pathOf(['nsc-a'])));
    // The answer is in the caller's view: its id is the caller's segment, ours is the next one.
    assert.equal(answered.id, answered.path!.pathSegments[0].id);
    const see = await ep.visibleTo(alice);
    assert.ok(see(answered), "the owner's watch keeps its connection held");
    assert.ok(!(await ep.visibleTo(mallory))(answered), "another caller's watch does not");
    await ep.close(alice, answered); // else its expiry timer keeps the test run alive for 10 minutes
  });

  it("refuses another caller's Close of a replayed path and leaves the connection in place", async () => {
    const { ep, calls } = hop();
    const conn = await ep.request(alice, request(pathOf(['nsc-a'])));
    await assert.rejects(
      ep.close(mallory, structuredClone(conn)),
      refused(/failed to close connection "[^"]+": it belongs to another caller, not to tcp:10\.0\.0\.2/),
    );
    assert.equal(calls.close, 0);
    assert.equal(ep.monitor.list().length, 1);
    await ep.close(alice, conn);
    assert.equal(ep.monitor.list().length, 0);
  });

  it("refuses another caller's Close carrying only the victim's segment", async () => {
    const { ep } = hop();
    const conn = await ep.request(alice, request(pathOf(['nsc-a'])));
    const first = structuredClone(conn);
    first.path!.pathSegments = first.path!.pathSegments.slice(0, 1);
    await assert.rejects(ep.close(mallory, first), refused(/it belongs to another caller/));
    assert.equal(ep.monitor.list().length, 1);
    await ep.close(alice, first); // the owner may (begin closes the whole path)
    assert.equal(ep.monitor.list().length, 0);
  });

  it("refuses another caller's Request carrying the victim's path; the owner's refresh passes", async () => {
    const { ep, calls } = hop();
    const conn = await ep.request(alice, request(pathOf(['nsc-a'])));
    const before = structuredClone(ep.monitor.list());
    const hijack = request({ ...structuredClone(conn), networkService: 'other' });
    await assert.rejects(
      ep.request(mallory, hijack),
      refused(/failed to request connection "[^"]+": it belongs/),
    );
    assert.equal(calls.request, 1);
    assert.deepEqual(ep.monitor.list(), before);
    await ep.request(alice, request(structuredClone(conn)));
    assert.equal(calls.request, 2);
    await ep.close(alice, conn);
  });

  it('tells unix callers apart by network namespace and uid, not by process', async () => {
    const { ep } = hop();
    const conn = await ep.request(unix(101), request(pathOf(['nsc-a'])));
    await ep.request(unix(102), request(structuredClone(conn))); // the client restarted: same pod, same uid
    await assert.rejects(
      ep.close(unix(201), structuredClone(conn)),
      refused(/not to unix:inode:\/\/4\/2:uid=1000/),
    );
    await assert.rejects(
      ep.close(unix(301), structuredClone(conn)),
      refused(/not to unix:inode:\/\/4\/1:uid=0/),
    );
    await assert.rejects(ep.close(unix(401), structuredClone(conn)), refused(/it belongs to another caller/)); // operators see, not close
    await assert.rejects(
      ep.close(unix(101, 201), structuredClone(conn)),
      refused(/differ in namespace or uid/),
    );
    await assert.rejects(ep.close(unix(999), structuredClone(conn)), refused(/gone or differ/));
    assert.equal(ep.monitor.list().length, 1);
    await ep.close(unix(102), conn);
    assert.equal(ep.monitor.list().length, 0);
  });

  it('on a socket-owned hop (forwarder, endpoints) every caller on the socket is one owner', async () => {
    const { ep } = hop('socket');
    const conn = await ep.request(unix(101), request(pathOf(['nsmgr-1'])));
    await ep.close(unix(201), conn);
    assert.equal(ep.monitor.list().length, 0);
  });

  it('shows a MonitorConnections caller only its own connections; operators and in-process callers see all', async () => {
    const { ep } = hop();
    const a = await ep.request(unix(101), request(pathOf(['nsc-a'])));
    const b = await ep.request(unix(201), request(pathOf(['nsc-b'])));
    const ida = a.path!.pathSegments[1].id;
    const idb = b.path!.pathSegments[1].id;
    assert.deepEqual(await visible(ep, unix(102)), [ida]);
    assert.deepEqual(await visible(ep, unix(201)), [idb]);
    assert.deepEqual(await visible(ep, unix(301)), []);
    assert.deepEqual((await visible(ep, unix(401))).sort(), [ida, idb].sort());
    assert.deepEqual((await visible(ep, background())).sort(), [ida, idb].sort());
    assert.deepEqual(await visible(ep, mallory), []);
    await ep.close(unix(101), a);
    await ep.close(unix(201), b);
  });

  it('keeps an owner per SPIFFE ID over mTLS, whatever address the caller comes from', async () => {
    // The bare element (authorize, which would check the tokens, is left out): who owns what.
    const mon = new monitor.ConnectionMonitor();
    const owners = connectionowner.newServer({ monitor: mon });
    const chain = newNetworkServiceChain(updatepath.newServer('nsmgr'), owners, monitor.newServer(mon), {
      request: async (_ctx, req) => req.connection!,
      close: async () => {},
    });
    const { publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const as = (id: string, address: string) =>
      withTlsPeer(tcp(address), { spiffeId: parseSpiffeId(id), publicKey });
    const conn = await chain.request(as('spiffe://td/fwd-1', '10.0.0.1:1'), request(pathOf(['nsc-a'])));
    await assert.rejects(
      chain.close(as('spiffe://td/fwd-2', '10.0.0.1:1'), structuredClone(conn)),
      refused(/not to spiffe:spiffe:\/\/td\/fwd-2/),
    );
    const see = async (ctx: Context) => mon.list().filter(await owners.visibleTo(ctx)).length;
    assert.equal(await see(as('spiffe://td/fwd-2', '10.0.0.1:1')), 0);
    assert.equal(await see(as('spiffe://td/fwd-1', '10.0.0.9:2')), 1);
    await chain.close(as('spiffe://td/fwd-1', '10.0.0.9:2'), conn);
    assert.equal(mon.list().length, 0);
    assert.equal(owners.size, 0);
  });

  it('forgets the owner of a first Request that failed, and does not check in-process calls', async () => {
    let fail = true;
    const ep = endpoint.newServer({
      name: 'nsmgr',
      additionalFunctionality: [
        {
          async request(_ctx, req) {
            if (fail) throw new Error('no forwarder');
            return req.connection!;
          },
          close: (ctx, conn) => next.server(ctx).close(ctx, conn),
        },
      ],
    });
    const req = request(pathOf(['nsc', 'nsmgr'], 0));
    await assert.rejects(ep.request(mallory, structuredClone(req)), /no forwarder/);
    fail = false;
    const conn = await ep.request(alice, structuredClone(req)); // the id is free again
    await ep.close(background(), conn);
    assert.equal(ep.monitor.list().length, 0);
  });
});
