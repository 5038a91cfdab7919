import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { background, type Context } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { connection } from '../../testing/connections.js';
import { type CA, newCA } from '../../tools/spiffe/ca.js';
import { withPeer } from '../../tools/spiffe/peer.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { signSegmentToken } from '../../tools/token/jwt.js';
import * as authorize from './index.js';

const TD = 'example.org';
const id = (name: string) => `spiffe://${TD}/${name}`;

interface Hop {
  name: string;
  key: ReturnType<typeof createPrivateKey>;
  publicKey: X509Certificate['publicKey'];
}

describe('authorize server (path tokens over mTLS)', () => {
  let ca: CA;
  const hops: Record<string, Hop> = {};

  before(async () => {
    ca = await newCA(TD);
    for (const name of ['nsc', 'nsmgr', 'forwarder', 'stranger']) {
      const svid = await ca.issue(id(name));
      hops[name] = {
        name,
        key: createPrivateKey(svid.keyPem),
        publicKey: new X509Certificate(svid.certPem).publicKey,
      };
    }
  });

  const inAMinute = () => Date.now() + 60_000;

  /** A token as hop `signer` makes it for its segment `segmentId`. */
  function token(signer: string, o: { sub?: string; aud?: string; expiresMs?: number; segmentId: string }) {
    return signSegmentToken(hops[signer].key, {
      sub: o.sub ?? id(signer),
      aud: o.aud ?? '',
      expiresMs: o.expiresMs ?? inAMinute(),
      segmentId: o.segmentId,
    });
  }

  /** nsc -> nsmgr -> forwarder -> us (index 3); the forwarder calls us over mTLS. */
  async function path(patch: { nsc?: string; nsmgr?: string; forwarder?: string } = {}): Promise<Connection> {
    const segs = [
      { name: 'nsc', id: 'nsc-id', token: patch.nsc ?? (await token('nsc', { segmentId: 'nsc-id' })) },
      {
        name: 'nsmgr',
        id: 'nsmgr-id',
        token: patch.nsmgr ?? (await token('nsmgr', { segmentId: 'nsmgr-id', aud: id('nsc') })),
      },
      {
        name: 'forwarder',
        id: 'fwd-id',
        token: patch.forwarder ?? (await token('forwarder', { segmentId: 'fwd-id', aud: id('nsmgr') })),
      },
      { name: 'us', id: 'us-id', token: '' },
    ];
    return connection({ id: 'us-id', path: { index: 3, pathSegments: segs } });
  }

  const fromForwarder = (): Context =>
    withPeer(background(), { spiffeId: parseSpiffeId(id('forwarder')), publicKey: hops.forwarder.publicKey });

  async function deniedWith(
    conn: Connection,
    message: RegExp,
    ctx = fromForwarder(),
    closeAllowed = false,
  ): Promise<void> {
    const rec = recorder();
    const chain = newNetworkServiceChain(authorize.newServer(), rec);
    await assert.rejects(
      chain.request(ctx, { connection: conn, mechanismPreferences: [] }),
      (e: Error & { code?: number }) => {
        assert.equal(e.code, status.PERMISSION_DENIED, e.message);
        assert.match(e.message, message);
        return true;
      },
    );
    if (!closeAllowed) {
      await assert.rejects(chain.close(ctx, conn), message);
      assert.equal(rec.calls.length, 0, 'nothing below ran');
      return;
    }
    // Expiry sends a Close after the tokens ran out: the signatures are checked, the expiry is not.
    await chain.close(ctx, conn);
    assert.deepEqual(
      rec.calls.map((c) => c.op),
      ['close'],
      'only the Close went on',
    );
  }

  it('lets a path through whose caller signed its segment and whose chain holds', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(authorize.newServer(), rec);
    await chain.request(fromForwarder(), { connection: await path(), mechanismPreferences: [] });
    assert.equal(rec.calls.length, 1);
  });

  const cases: {
    name: string;
    make: () => Promise<Parameters<typeof path>[0]>;
    want: RegExp;
    /** Only the tokens' expiry is wrong: a Close still goes through. */
    expiredOnly?: boolean;
  }[] = [
    {
      name: 'a forged caller segment (signed by another key)',
      make: async () => ({
        forwarder: await token('stranger', { sub: id('forwarder'), segmentId: 'fwd-id' }),
      }),
      want: /path segment 2 \("forwarder"\): the caller spiffe:\/\/example.org\/forwarder did not sign its token: the signature does not verify/,
    },
    {
      name: 'an expired caller segment',
      make: async () => ({
        forwarder: await token('forwarder', { segmentId: 'fwd-id', expiresMs: Date.now() - 5_000 }),
      }),
      want: /path segment 2 \("forwarder"\): .*the token has expired/,
      expiredOnly: true,
    },
    {
      name: "a caller segment whose subject is someone else's",
      make: async () => ({ forwarder: await token('forwarder', { sub: id('nsmgr'), segmentId: 'fwd-id' }) }),
      want: /path segment 2 \("forwarder"\): the token's subject spiffe:\/\/example.org\/nsmgr is not the caller/,
    },
    {
      name: 'a replayed token (issued for another segment)',
      make: async () => ({ forwarder: await token('forwarder', { segmentId: 'other-connection' }) }),
      want: /path segment 2 \("forwarder"\): the token was issued for segment id "other-connection", not "fwd-id" \(replayed\)/,
    },
    {
      name: 'an expired earlier segment',
      make: async () => ({ nsc: await token('nsc', { segmentId: 'nsc-id', expiresMs: Date.now() - 1_000 }) }),
      want: /path segment 0 \("nsc"\): the token expired at/,
      expiredOnly: true,
    },
    {
      name: 'a garbled earlier segment',
      make: async () => ({ nsmgr: 'abc.def.ghi' }),
      want: /path segment 1 \("nsmgr"\): the token does not decode as a JWT/,
    },
    {
      name: 're-ordered segments (the chain of audiences breaks)',
      make: async () => ({ nsmgr: await token('nsmgr', { segmentId: 'nsmgr-id', aud: id('stranger') }) }),
      want: /path segment 1 \("nsmgr"\): the token's audience spiffe:\/\/example.org\/stranger is not the subject spiffe:\/\/example.org\/nsc of segment 0/,
    },
  ];
  for (const c of cases) {
    it(`refuses ${c.name} with PermissionDenied naming the segment${c.expiredOnly ? ' (a Close passes)' : ''}`, async () => {
      await deniedWith(await path(await c.make()), c.want, fromForwarder(), c.expiredOnly);
    });
  }

  describe("a token carrying its signer's certificate (x5c: a rotated SVID over an older connection)", () => {
    async function rotatedToken(issuer: CA, spiffeId: string): Promise<string> {
      const svid = await issuer.issue(spiffeId);
      return signSegmentToken(
        createPrivateKey(svid.keyPem),
        { sub: id('forwarder'), aud: id('nsmgr'), expiresMs: inAMinute(), segmentId: 'fwd-id' },
        new X509Certificate(svid.certPem),
      );
    }

    async function run(forwarder: string): Promise<void> {
      // checkPath with our bundle, as the element gets it from the daemon's identity
      await authorize.checkPath(fromForwarder(), await path({ forwarder }), ca.bundlePem);
    }

    it('accepts the new key when the certificate chains to our bundle and names the TLS peer', async () => {
      await run(await rotatedToken(ca, id('forwarder')));
    });

    it('refuses a certificate from outside our bundle', async () => {
      await assert.rejects(
        run(await rotatedToken(await newCA(TD), id('forwarder'))),
        /not issued by a CA of our bundle/,
      );
    });

    it("refuses another identity's certificate", async () => {
      await assert.rejects(
        run(await rotatedToken(ca, id('stranger'))),
        /the token's certificate is not spiffe:\/\/example.org\/forwarder's/,
      );
    });
  });

  it('refuses a TLS caller without a usable SPIFFE ID', async () => {
    await deniedWith(await path(), /not an X.509-SVID/, withPeer(background(), new Error('no URI SAN')));
  });

  it('passes a call without a TLS peer unchecked (unix socket, insecure mode)', async () => {
    const rec = recorder();
    const chain = newNetworkServiceChain(authorize.newServer(), rec);
    await chain.request(background(), {
      connection: await path({ forwarder: 'plain' }),
      mechanismPreferences: [],
    });
    assert.equal(rec.calls.length, 1);
  });
});
