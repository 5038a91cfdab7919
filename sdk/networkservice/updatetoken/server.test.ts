import assert from 'node:assert/strict';
import { createPrivateKey, X509Certificate } from 'node:crypto';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { recorder } from '../../testing/checks.js';
import { FakeClock } from '../../testing/clock.js';
import { pathOf, request } from '../../testing/connections.js';
import { injectClock } from '../../testing/inject.js';
import { newCA } from '../../tools/spiffe/ca.js';
import { withPeer } from '../../tools/spiffe/peer.js';
import type { X509Source } from '../../tools/spiffe/source.js';
import { parseSpiffeId } from '../../tools/spiffe/spiffe-id.js';
import { type PeerTokenResult, withPeerToken } from '../../tools/token/index.js';
import { isJwt, verifySegmentToken } from '../../tools/token/jwt.js';
import * as updatepath from '../updatepath/index.js';
import * as updatetoken from './index.js';

const NOW = Date.UTC(2024, 0, 1);

function decode(token: string): { sub: string; aud: string; exp: number } {
  return JSON.parse(Buffer.from(token, 'base64url').toString());
}

function setup(opts?: updatetoken.TokenOptions) {
  const clock = new FakeClock(NOW);
  const rec = recorder();
  const chain = newNetworkServiceChain(
    injectClock(clock),
    updatepath.newServer('nsmgr'),
    updatetoken.newServer(opts),
    rec,
  );
  return { clock, rec, chain };
}

describe('updatetoken server', () => {
  it('stamps our segment with a token and an expiry of now + the maximum lifetime', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    await chain.request(background(), request(pathOf(['nsc'])));
    const ours = rec.calls[0].request!.connection!.path!.pathSegments[1];
    assert.equal(ours.expires?.getTime(), NOW + 60_000);
    assert.deepEqual(decode(ours.token), { sub: 'nsmgr', aud: 'nsc', exp: (NOW + 60_000) / 1000 });
  });

  it('uses a 10 minute lifetime by default', async () => {
    const { rec, chain } = setup();
    await chain.request(background(), request(pathOf(['nsc'])));
    const ours = rec.calls[0].request!.connection!.path!.pathSegments[1];
    assert.equal(updatetoken.DEFAULT_MAX_TOKEN_LIFETIME_MS, 600_000);
    assert.equal(ours.expires?.getTime(), NOW + 600_000);
  });

  it('fills in the previous segment when the caller left it without an expiry', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    await chain.request(background(), request(pathOf(['nsc'])));
    const prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.expires?.getTime(), NOW + 60_000);
    assert.deepEqual(decode(prev.token), { sub: 'nsc', aud: 'nsmgr', exp: (NOW + 60_000) / 1000 });
  });

  it('keeps the previous segment the caller stamped itself', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const req = request(pathOf(['nsc']));
    const expires = new Date(NOW + 5_000);
    req.connection!.path!.pathSegments[0].expires = expires;
    req.connection!.path!.pathSegments[0].token = 'callers-token';
    await chain.request(background(), req);
    const prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.expires?.getTime(), expires.getTime());
    assert.equal(prev.token, 'callers-token');
  });

  it('renews our token on every refresh, with the time of the clock', async () => {
    const { clock, rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const first = await chain.request(background(), request(pathOf(['nsc'])));
    clock.advance(20_000);
    await chain.request(background(), request({ id: first.id, path: first.path }));
    const ours = rec.calls[1].request!.connection!.path!.pathSegments[1];
    assert.equal(ours.expires?.getTime(), NOW + 80_000);
    assert.equal(decode(ours.token).exp, (NOW + 80_000) / 1000);
  });

  it('stamps the only segment of a first hop with no audience', async () => {
    const clock = new FakeClock(NOW);
    const rec = recorder();
    const chain = newNetworkServiceChain(
      injectClock(clock),
      updatepath.newClient('nsc'),
      updatetoken.newClient(),
      rec,
    );
    await chain.request(background(), request({ id: 'a' }));
    const only = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.deepEqual(decode(only.token), { sub: 'nsc', aud: '', exp: (NOW + 600_000) / 1000 });
  });

  it('stamps our segment on close too, so the next hop gets our current token', async () => {
    const { rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const conn = request(pathOf(['nsc'])).connection!;
    await chain.close(background(), conn);
    assert.equal(rec.calls[0].op, 'close');
    assert.equal(decode(rec.calls[0].conn!.path!.pathSegments[1].token).exp, (NOW + 60_000) / 1000);
  });
});

describe('updatetoken server with upstream token metadata', () => {
  const sent = (token: string, expiresMs: number): PeerTokenResult => ({
    ok: true,
    value: { token, expiresMs },
  });

  it('writes the token and expiry the caller sent into its segment, on every request', async () => {
    const { clock, rec, chain } = setup({ maxTokenLifetimeMs: 60_000 });
    const first = await chain.request(
      withPeerToken(background(), sent('t1', NOW + 10_000)),
      request(pathOf(['nsc'])),
    );
    let prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.token, 't1');
    assert.equal(prev.expires?.getTime(), NOW + 10_000);
    // An upstream client refreshes with the connection it got back: the path still holds the
    // first expiry; the metadata holds the new one, and that is the one kept.
    clock.advance(2_000);
    await chain.request(
      withPeerToken(background(), sent('t2', NOW + 12_000)),
      request({ id: first.id, path: first.path }),
    );
    prev = rec.calls[1].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.token, 't2');
    assert.equal(prev.expires?.getTime(), NOW + 12_000);
  });

  it('prefers the metadata to what the caller wrote into its segment', async () => {
    const { rec, chain } = setup();
    const req = request(pathOf(['nsc']));
    req.connection!.path!.pathSegments[0].token = 'in-path';
    req.connection!.path!.pathSegments[0].expires = new Date(NOW + 1_000);
    await chain.request(withPeerToken(background(), sent('in-md', NOW + 9_000)), req);
    const prev = rec.calls[0].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.token, 'in-md');
    assert.equal(prev.expires?.getTime(), NOW + 9_000);
  });

  it('copies the metadata on close', async () => {
    const { rec, chain } = setup();
    await chain.close(
      withPeerToken(background(), sent('bye', NOW + 3_000)),
      request(pathOf(['nsc'])).connection!,
    );
    const prev = rec.calls[0].conn!.path!.pathSegments[0];
    assert.equal(prev.token, 'bye');
    assert.equal(prev.expires?.getTime(), NOW + 3_000);
  });

  it('refuses malformed metadata, naming the key, and calls nothing below', async () => {
    const { rec, chain } = setup();
    const bad: PeerTokenResult = {
      ok: false,
      error: new Error('metadata nsm-client-token-expires: bad') as never,
    };
    await assert.rejects(
      chain.request(withPeerToken(background(), bad), request(pathOf(['nsc']))),
      /nsm-client-token-expires/,
    );
    assert.equal(rec.calls.length, 0);
  });

  it('without metadata, renews the stamp it put on a plain client segment when the client sends it back', async () => {
    const { clock, rec, chain } = setup({ maxTokenLifetimeMs: 10_000 });
    const first = await chain.request(background(), request(pathOf(['nsc'])));
    assert.equal(first.path!.pathSegments[0].expires?.getTime(), NOW + 10_000);
    // The bug this guards against: keeping the first stamp, so that after one lifetime the
    // segment is expired although the client refreshed every few seconds.
    clock.advance(8_000);
    await chain.request(background(), request({ id: first.id, path: first.path }));
    const prev = rec.calls[1].request!.connection!.path!.pathSegments[0];
    assert.equal(prev.expires?.getTime(), NOW + 18_000);
    assert.equal(decode(prev.token).exp, (NOW + 18_000) / 1000);
  });
});

describe('updatetoken server with an identity', () => {
  it('signs our segment as an ES256 JWT: sub = our SPIFFE ID, aud = the TLS caller, cid = our segment id', async () => {
    const ca = await newCA('example.org');
    const issued = await ca.issue('spiffe://example.org/nsmgr', { ttlMs: 3_600_000 });
    const leaf = new X509Certificate(issued.certPem);
    const source: X509Source = {
      kind: 'test',
      svid: () => ({
        spiffeId: parseSpiffeId('spiffe://example.org/nsmgr'),
        certChainPem: issued.certPem,
        keyPem: issued.keyPem,
        key: createPrivateKey(issued.keyPem),
        leaf,
        notAfterMs: Date.parse(leaf.validTo),
      }),
      bundlePem: () => ca.bundlePem,
      onUpdate: () => () => {},
      close: async () => {},
    };
    const rec = recorder();
    const chain = newNetworkServiceChain(
      updatepath.newServer('nsmgr'),
      updatetoken.newServer({ maxTokenLifetimeMs: 60_000, source }),
      rec,
    );
    const ctx = withPeer(background(), {
      spiffeId: parseSpiffeId('spiffe://example.org/forwarder'),
      publicKey: leaf.publicKey,
    });
    await chain.request(ctx, request(pathOf(['forwarder'])));
    const ours = rec.calls[0].request!.connection!.path!.pathSegments[1];
    const claims = await verifySegmentToken(ours.token, leaf.publicKey, Date.now());
    assert.equal(claims.sub, 'spiffe://example.org/nsmgr');
    assert.equal(claims.aud, 'spiffe://example.org/forwarder');
    assert.equal(claims.cid, ours.id);
    assert.equal(claims.exp, Math.floor(ours.expires!.getTime() / 1000));
    // The caller's plain segment is not ours to sign.
    assert.ok(!isJwt(rec.calls[0].request!.connection!.path!.pathSegments[0].token));
  });
});
