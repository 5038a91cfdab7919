import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import type { Context } from '../core/context.js';
import { background } from '../core/context.js';
import * as next from '../core/next.js';
import { newNetworkServiceChain } from '../core/next.js';
import * as monitor from '../networkservice/monitor/index.js';
import { request } from '../testing/connections.js';
import { eventually } from '../testing/eventually.js';
import { type CA, newCA } from '../tools/spiffe/ca.js';
import { spiffeCredentials } from '../tools/spiffe/credentials.js';
import { openFileSource } from '../tools/spiffe/file-source.js';
import { peerIdentity } from '../tools/spiffe/peer.js';
import type { X509Source } from '../tools/spiffe/source.js';
import { ClientPool } from './client-pool.js';
import { addNetworkServiceServices } from './networkservice-server.js';
import { type Served, serve } from './server.js';
import { serverCredentials, type TransportSecurity } from './transport-security.js';

describe('transport security', () => {
  describe('without an identity', () => {
    const none: TransportSecurity = { insecure: false };
    for (const url of ['tcp://127.0.0.1:0', 'tcp://localhost:5001', 'tcp://[::1]:0', 'unix:///tmp/x.sock']) {
      it(`serves ${url} in plaintext`, () => assert.ok(!serverCredentials(url, none)._isSecure()));
    }
    for (const url of ['tcp://0.0.0.0:5001', 'tcp://10.0.0.1:5001', 'tcp://:5001', 'tcp://nsmgr:5001']) {
      it(`refuses ${url} with a config error naming NSM_INSECURE, unless insecure mode is on`, () => {
        assert.throws(
          () => serverCredentials(url, none),
          (e: Error & { env?: string }) =>
            e.env === 'NSM_INSECURE' &&
            /refusing to serve .* without TLS on a non-loopback address/.test(e.message),
        );
        assert.ok(!serverCredentials(url, { insecure: true })._isSecure());
      });
    }
  });

  describe('mTLS with SVID files', () => {
    let dir: string;
    let ca: CA;
    let sources: X509Source[];
    let served: Served[];
    let pools: ClientPool[];
    let seen: Context[];

    async function identity(
      name: string,
      trust: CA = ca,
    ): Promise<{ sec: TransportSecurity; src: X509Source }> {
      const files = await trust.writeSvid(join(dir, name), name, `spiffe://${trust.trustDomain}/${name}`);
      const src = await openFileSource({ ...files, pollIntervalMs: 20 });
      sources.push(src);
      return { sec: { credentials: spiffeCredentials(src), insecure: false }, src };
    }

    function pool(sec: TransportSecurity): ClientPool {
      const p = new ClientPool({ security: sec });
      pools.push(p);
      return p;
    }

    async function start(sec: TransportSecurity, listenOn = ['tcp://127.0.0.1:0']): Promise<string> {
      const connections = new monitor.ConnectionMonitor();
      const chain = newNetworkServiceChain(
        {
          async request(ctx, req) {
            seen.push(ctx);
            return next.server(ctx).request(ctx, req);
          },
          close: (ctx, conn) => next.server(ctx).close(ctx, conn),
        },
        monitor.newServer(connections),
      );
      const s = await serve({
        listenOn,
        security: sec,
        register: (srv, ctx) => addNetworkServiceServices(srv, chain, connections, ctx),
      });
      served.push(s);
      return s.urls[0];
    }

    beforeEach(async () => {
      dir = mkdtempSync(join(tmpdir(), 'nsm-mtls-test-'));
      ca ??= await newCA('example.org');
      sources = [];
      pools = [];
      seen = [];
      served = [];
    });

    afterEach(async () => {
      for (const p of pools) await p.close();
      for (const s of served) await s.close();
      for (const s of sources) await s.close();
      rmSync(dir, { recursive: true, force: true });
    });

    it('lets a peer of the trust domain in and tells the chain its SPIFFE ID', async () => {
      const url = await start((await identity('nsmgr')).sec);
      const conn = await pool((await identity('forwarder')).sec).request(
        background(),
        url,
        request({ id: 'c1' }),
      );
      assert.equal(conn.id, 'c1');
      assert.equal(peerIdentity(seen[0])?.id, 'spiffe://example.org/forwarder');
    });

    it('refuses a client with no certificate and one from another trust bundle', async () => {
      const url = await start((await identity('nsmgr')).sec);
      await assert.rejects(
        pool({ insecure: true }).request(background(), url, request({ id: 'c2' })),
        (e: Error & { code?: number }) => e.code === status.UNAVAILABLE,
      );
      const stranger = await newCA('example.org');
      await assert.rejects(
        pool((await identity('impostor', stranger)).sec).request(background(), url, request({ id: 'c3' })),
        (e: Error & { code?: number }) => e.code === status.UNAVAILABLE,
      );
      assert.equal(seen.length, 0, 'nothing reached the chain');
    });

    it('refuses a server outside our trust domain (its SPIFFE ID checked, not its host name)', async () => {
      const elsewhere = await newCA('elsewhere.org');
      // The server trusts our CA too, so only the client-side SPIFFE ID check can refuse it.
      const { src } = await identity('nsmgr', elsewhere);
      writeFileSync(join(dir, 'nsmgr', 'bundle.pem'), `${elsewhere.bundlePem}\n${ca.bundlePem}\n`);
      await eventually(() => assert.ok(src.bundlePem().includes(ca.bundlePem)));
      const url = await start({ credentials: spiffeCredentials(src), insecure: false });
      const client = await identity('client');
      writeFileSync(join(dir, 'client', 'bundle.pem'), `${ca.bundlePem}\n${elsewhere.bundlePem}\n`);
      await eventually(() => assert.ok(client.src.bundlePem().includes(elsewhere.bundlePem)));
      await assert.rejects(
        pool(client.sec).request(background(), url, request({ id: 'c4' })),
        /not in our trust domain example\.org/,
      );
    });

    it('rotates without dropping connections: the open one keeps its peer, a new one sees the new SVID', async () => {
      const server = (await identity('nsmgr')).sec;
      const url = await start(server);
      const client = await identity('client');
      const p1 = pool(client.sec);
      await p1.request(background(), url, request({ id: 'r1' }));
      assert.equal(peerIdentity(seen[0])?.id, 'spiffe://example.org/client');
      let updated = false;
      client.src.onUpdate(() => {
        updated = true;
      });
      await ca.writeSvid(join(dir, 'client'), 'client', 'spiffe://example.org/client-rotated');
      await eventually(() => assert.ok(updated));
      await p1.request(background(), url, request({ id: 'r2' }));
      assert.equal(peerIdentity(seen[1])?.id, 'spiffe://example.org/client', 'the open connection was kept');
      // A new connection (to a second server: grpc-js shares the first one between equal credentials).
      await p1.request(background(), await start(server), request({ id: 'r3' }));
      assert.equal(peerIdentity(seen[2])?.id, 'spiffe://example.org/client-rotated');
    });

    it('keeps unix sockets plaintext, created 0660 with the socket group', async () => {
      const sock = join(dir, 'nsm.sock');
      const gid = process.getgid!(); // a group we may give it without root
      await start({ ...(await identity('nsmgr')).sec, socketGroup: gid }, [`unix://${sock}`]);
      assert.equal(statSync(sock).mode & 0o777, 0o660);
      assert.equal(statSync(sock).gid, gid);
      await pool({ insecure: false }).request(background(), `unix://${sock}`, request({ id: 'u1' }));
      assert.equal(peerIdentity(seen[0]), undefined, 'no TLS peer on a unix socket');
    });
  });
});
