// Who is calling, as far as it is proven, for the policy and ownership checks:
//  - over mTLS: the peer certificate's SPIFFE ID (the TLS layer checked it against our bundle);
//  - over a unix socket (plaintext): the caller's own path segment (the one before ours), when it is
//    a JWT whose `x5c` certificate chains to our bundle, names the token's `sub` as its SPIFFE ID,
//    was issued for that segment (`cid`) and has not expired: a local client with an SVID signs its
//    segment so (updatetoken client). What this proves is that an SVID holder signed that segment,
//    not that the holder is the process on the socket: a token copied out of a path could be
//    presented again by another local process, for that same segment id, until it expires
//    (README, threat model);
//  - anything else (a plain token, no identity anywhere): unknown.
// In-process calls (no transport at all) are not callers; `inProcess` says so.
import { status } from '@grpc/grpc-js';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import { NsmError } from '../../errors/index.js';
import { issuedByBundle } from '../spiffe/cert-cache.js';
import { peerIdentity, peerOf } from '../spiffe/peer.js';
import { spiffeIdOfCertificate } from '../spiffe/spiffe-id.js';
import { isJwt, verifySegmentToken } from '../token/jwt.js';
import { peerFrom } from '../unixpeer/index.js';

export type Caller =
  | { kind: 'in-process' }
  | { kind: 'identified'; spiffeId: string; how: 'mtls' | 'token' }
  | { kind: 'unknown'; why: string };

/** The caller of a Request (its segment is the one before ours), or of a registry call (`conn` absent). */
export async function callerOf(
  ctx: Context,
  conn: Connection | undefined,
  bundlePem?: string,
): Promise<Caller> {
  const tls = peerIdentity(ctx);
  if (tls) return { kind: 'identified', spiffeId: tls.id, how: 'mtls' };
  const bad = peerOf(ctx);
  if (bad instanceof Error)
    return { kind: 'unknown', why: `its certificate is not an X.509-SVID: ${bad.message}` };
  const peer = peerFrom(ctx);
  if (!peer) return { kind: 'in-process' };
  if (!conn) return { kind: 'unknown', why: 'it came over a plaintext transport (no certificate)' };
  const index = conn.path?.index ?? 0;
  const prev = conn.path?.pathSegments[index - 1];
  if (!prev) return { kind: 'unknown', why: 'the path has no segment of the caller' };
  if (!isJwt(prev.token))
    return { kind: 'unknown', why: `its segment "${prev.name}" carries no signed token` };
  if (!bundlePem)
    return { kind: 'unknown', why: 'this daemon has no trust bundle to check its token against' };
  const now = clock(ctx).now();
  let signer = '';
  try {
    const claims = await verifySegmentToken(
      prev.token,
      (cert) => {
        if (!cert) throw new Error('the token carries no certificate (x5c)');
        if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
          throw new Error("the token's certificate is not valid now");
        }
        if (!issuedByBundle(cert, bundlePem)) {
          throw new Error("the token's certificate is not issued by a CA of our bundle");
        }
        signer = spiffeIdOfCertificate(cert).id;
        return cert.publicKey;
      },
      now,
    );
    if (claims.sub !== signer)
      throw new Error(`the token's subject ${claims.sub} is not its signer ${signer}`);
    if (claims.cid !== prev.id)
      throw new Error(`the token was issued for segment id "${claims.cid}", not "${prev.id}"`);
    return { kind: 'identified', spiffeId: claims.sub, how: 'token' };
  } catch (e) {
    // A token that is there but does not hold up is an attack or a bug: refuse, do not fall back.
    throw new NsmError(
      status.PERMISSION_DENIED,
      `the caller's path segment "${prev.name}" does not prove an identity: ${(e as Error).message}`,
    );
  }
}
