import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { newCA } from '../spiffe/ca.js';
import { decodeSegmentToken, signSegmentToken, verifySegmentToken } from './jwt.js';

const EXPIRES_MS = Date.UTC(2030, 0, 1, 12, 0, 30, 750);

describe('segment tokens', () => {
  async function svid() {
    const ca = await newCA('example.org');
    const issued = await ca.issue('spiffe://example.org/nsmgr');
    const cert = new X509Certificate(issued.certPem);
    return { key: createPrivateKey(issued.keyPem), cert };
  }

  it('signs a JWT that jose verifies, with the claims, the x5c certificate and exp in seconds', async () => {
    const { key, cert } = await svid();
    const token = await signSegmentToken(
      key,
      {
        sub: 'spiffe://example.org/nsmgr',
        aud: 'spiffe://example.org/nsc',
        expiresMs: EXPIRES_MS,
        segmentId: 's1',
      },
      cert,
    );
    const { payload, protectedHeader } = await jwtVerify(token, cert.publicKey, {
      algorithms: ['ES256'],
      currentDate: new Date(EXPIRES_MS - 60_000),
    });
    assert.deepEqual(payload, {
      cid: 's1',
      sub: 'spiffe://example.org/nsmgr',
      aud: 'spiffe://example.org/nsc',
      exp: Math.floor(EXPIRES_MS / 1000),
    });
    assert.deepEqual(protectedHeader, { alg: 'ES256', typ: 'JWT', x5c: [cert.raw.toString('base64')] });
    const claims = await verifySegmentToken(token, cert.publicKey, EXPIRES_MS - 60_000);
    assert.equal(claims.cid, 's1');
  });

  it('leaves aud and x5c out when there is none (a unix-socket caller, no certificate)', async () => {
    const { key } = await svid();
    const token = await signSegmentToken(key, {
      sub: 'spiffe://example.org/nsmgr',
      aud: '',
      expiresMs: EXPIRES_MS,
      segmentId: 's2',
    });
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'ES256', typ: 'JWT' });
    assert.deepEqual(decodeSegmentToken(token), {
      sub: 'spiffe://example.org/nsmgr',
      aud: '',
      exp: Math.floor(EXPIRES_MS / 1000),
      cid: 's2',
    });
  });

  it('does not verify with another key', async () => {
    const a = await svid();
    const b = await svid();
    const token = await signSegmentToken(a.key, { sub: 's', aud: '', expiresMs: EXPIRES_MS, segmentId: 'x' });
    await assert.rejects(verifySegmentToken(token, b.cert.publicKey, EXPIRES_MS - 60_000), /does not verify/);
  });

  it('refuses a key that cannot sign ES256', async () => {
    const cases = [
      generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey,
      generateKeyPairSync('ed25519').privateKey,
    ];
    for (const key of cases) {
      await assert.rejects(
        signSegmentToken(key, { sub: 's', aud: '', expiresMs: EXPIRES_MS, segmentId: 'x' }),
        /ES256 needs a P-256 EC private key/,
      );
    }
  });
});
