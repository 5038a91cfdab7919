// Path segment tokens as JWTs (sdk tools/spiffejwt): ES256, signed with the hop's X.509-SVID key,
// `sub` = the hop's SPIFFE ID, `aud` = the SPIFFE ID of the peer that called it (empty when the
// caller came over a unix socket and has no proven identity), `exp` = the segment's expiry. One
// claim of ours, `cid`, names the path segment id the token was issued for, so a token lifted
// from another connection or another segment does not verify there.
//
// The header carries the signer's certificate (`x5c`, as RFC 7515 allows): after a rotation a hop
// signs with its new key while a connection opened before still shows the old certificate in TLS,
// so the verifier checks the token's own certificate (chains to the bundle, same SPIFFE ID as the
// TLS peer) rather than the handshake's. Upstream verifiers ignore the header and use the TLS one.
import { type KeyObject, sign, type X509Certificate } from 'node:crypto';
import { decodeJwt, errors, type JWTHeaderParameters, jwtVerify } from 'jose';
import { certificateFromBase64 } from '../spiffe/cert-cache.js';

export interface SegmentClaims {
  sub: string;
  aud: string;
  /** Seconds since the epoch. */
  exp: number;
  /** The path segment id the token was issued for. */
  cid: string;
}

const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

export function isJwt(token: string): boolean {
  return JWT_SHAPE.test(token);
}

/** The certificate's DER in base64, as `x5c` carries it (once per certificate: every token repeats it). */
const x5cOf = new WeakMap<X509Certificate, string>();

/**
 * A JWS in compact form, signed here with node:crypto: the same token jose's SignJWT makes (verified
 * by jose in verifySegmentToken and by upstream), at a quarter of the cost. jose signs through
 * WebCrypto, a promise and a thread-pool job per token (about 375 µs against 90 µs here), and every
 * hop signs one token per Request and per Close, on the request's path.
 */
export async function signSegmentToken(
  key: KeyObject,
  claims: { sub: string; aud: string; expiresMs: number; segmentId: string },
  cert?: X509Certificate,
): Promise<string> {
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new TypeError('ES256 needs a P-256 EC private key');
  }
  const header: JWTHeaderParameters = { alg: 'ES256', typ: 'JWT' };
  if (cert) {
    let der = x5cOf.get(cert);
    if (der === undefined) {
      der = cert.raw.toString('base64');
      x5cOf.set(cert, der);
    }
    header.x5c = [der];
  }
  const payload: Record<string, unknown> = {
    cid: claims.segmentId,
    sub: claims.sub,
    exp: Math.floor(claims.expiresMs / 1000),
  };
  if (claims.aud) payload.aud = claims.aud;
  const input = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  // JWS wants the raw r||s form (RFC 7518 §3.4), not DER.
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' });
  return `${input}.${signature.toString('base64url')}`;
}

function base64url(text: string): string {
  return Buffer.from(text).toString('base64url');
}

function claimsOf(payload: Record<string, unknown>): SegmentClaims {
  const aud = Array.isArray(payload.aud) ? String(payload.aud[0] ?? '') : String(payload.aud ?? '');
  return {
    sub: String(payload.sub ?? ''),
    aud,
    exp: typeof payload.exp === 'number' ? payload.exp : 0,
    cid: String(payload.cid ?? ''),
  };
}

/** The claims of a JWT, unverified; undefined when it does not decode. */
export function decodeSegmentToken(token: string): SegmentClaims | undefined {
  try {
    return claimsOf(decodeJwt(token) as Record<string, unknown>);
  } catch {
    return undefined;
  }
}

/**
 * Which key verifies a token: given the certificate from its `x5c` header (absent: none), return
 * the key to use, or throw why that certificate is not acceptable.
 */
export type KeySelector = (headerCert: X509Certificate | undefined) => KeyObject;

/** Verifies signature (ES256 only) and expiry; throws an Error saying which failed. */
export async function verifySegmentToken(
  token: string,
  key: KeyObject | KeySelector,
  nowMs: number,
  opts: { allowExpired?: boolean } = {},
): Promise<SegmentClaims> {
  if (opts.allowExpired) {
    // Checked as of just before its expiry: signature, subject and segment still have to hold.
    const exp = decodeSegmentToken(token)?.exp;
    if (exp !== undefined) nowMs = Math.min(nowMs, exp * 1000 - 1000);
  }
  const select = (h: JWTHeaderParameters): KeyObject => {
    if (typeof key !== 'function') return key;
    const x5c = h.x5c?.[0];
    return key(x5c ? certificateFromBase64(x5c) : undefined);
  };
  try {
    const { payload } = await jwtVerify(token, select, {
      algorithms: ['ES256'],
      currentDate: new Date(nowMs),
    });
    return claimsOf(payload as Record<string, unknown>);
  } catch (e) {
    if (e instanceof errors.JWTExpired) throw new Error('the token has expired');
    if (e instanceof errors.JWSSignatureVerificationFailed) throw new Error('the signature does not verify');
    if (!(e instanceof errors.JOSEError)) throw e as Error; // the key selector's own verdict
    throw new Error(`the token is not a valid ES256 JWT (${(e as Error).message})`);
  }
}
