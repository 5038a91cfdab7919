// authorize checks the path tokens of a call that came over mTLS, as upstream's default policies
// do (sdk tools/opa/policies: tokens_valid, tokens_expired, tokens_chained, prev_token_signed):
//  - the previous segment (the caller's) carries a JWT that verifies against the caller's TLS
//    certificate, whose `sub` is the caller's SPIFFE ID and whose `cid` is that segment's id
//    (a token lifted from another segment or connection does not fit), and that has not expired;
//  - every earlier segment's token that is a JWT decodes and has not expired, and each names the
//    hop before it as its audience when it knows it (aud = sub of the segment before): a segment
//    moved, dropped or spliced in breaks that chain.
// A Close is checked the same way except for expiry (the timeout's Close comes after the tokens
// ran out). Any failure is PermissionDenied naming the segment. It sits right after updatetoken, which put
// the caller's token (from the call metadata) into the previous segment.
//
// A call without a TLS peer (a unix socket, insecure mode) is passed unchecked: there is no proven
// identity to check the tokens against; local sockets are guarded by their file mode instead
// (README, Identities and mTLS, threat model).

import type { KeyObject, X509Certificate } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { NsmError } from '../../errors/index.js';
import { defaultSecurity } from '../../grpc/transport-security.js';
import { issuedByBundle } from '../../tools/spiffe/cert-cache.js';
import { peerOf } from '../../tools/spiffe/peer.js';
import type { X509Source } from '../../tools/spiffe/source.js';
import { spiffeIdOfCertificate } from '../../tools/spiffe/spiffe-id.js';
import { decodeSegmentToken, isJwt, verifySegmentToken } from '../../tools/token/jwt.js';

function denied(message: string): NsmError {
  return new NsmError(status.PERMISSION_DENIED, message);
}

/** Throws PermissionDenied when the path's tokens do not hold up for this caller; `bundle` is our trust bundle (PEM). */
export async function checkPath(
  ctx: Context,
  conn: Connection,
  bundle?: string,
  opts: { allowExpired?: boolean } = {},
): Promise<void> {
  const peer = peerOf(ctx);
  if (!peer) return;
  if (peer instanceof Error) throw denied(`the caller's certificate is not an X.509-SVID: ${peer.message}`);
  const path = conn.path;
  const index = path?.index ?? 0;
  const segments = path?.pathSegments ?? [];
  const prevIndex = index - 1;
  const prev = segments[prevIndex];
  if (!prev)
    throw denied(`the path has no segment of the caller ${peer.spiffeId.id} before ours (index ${index})`);
  const where = (i: number) => `path segment ${i} ("${segments[i].name}")`;
  const now = clock(ctx).now();
  // The token's own certificate (a rotated SVID over a connection opened with the old one) must
  // chain to our bundle and name the same SPIFFE ID as the TLS peer; without one, the TLS key.
  const keyFor = (cert: X509Certificate | undefined): KeyObject => {
    if (!cert) return peer.publicKey;
    if (!bundle) throw new Error('the token carries a certificate but this hop has no trust bundle');
    if (spiffeIdOfCertificate(cert).id !== peer.spiffeId.id) {
      throw new Error(`the token's certificate is not ${peer.spiffeId.id}'s`);
    }
    if (Date.parse(cert.validTo) <= now || Date.parse(cert.validFrom) > now) {
      throw new Error("the token's certificate is not valid now");
    }
    if (!issuedByBundle(cert, bundle)) {
      throw new Error("the token's certificate is not issued by a CA of our bundle");
    }
    return cert.publicKey;
  };
  let claims: Awaited<ReturnType<typeof verifySegmentToken>>;
  try {
    claims = await verifySegmentToken(prev.token, keyFor, now, opts);
  } catch (e) {
    throw denied(
      `${where(prevIndex)}: the caller ${peer.spiffeId.id} did not sign its token: ${(e as Error).message}`,
    );
  }
  if (claims.sub !== peer.spiffeId.id) {
    throw denied(
      `${where(prevIndex)}: the token's subject ${claims.sub} is not the caller ${peer.spiffeId.id}`,
    );
  }
  if (claims.cid !== prev.id) {
    throw denied(
      `${where(prevIndex)}: the token was issued for segment id "${claims.cid}", not "${prev.id}" (replayed)`,
    );
  }
  for (let i = 0; i < prevIndex; i++) {
    const token = segments[i].token;
    if (!isJwt(token)) continue; // a plain client's segment (unix socket, no identity)
    const c = decodeSegmentToken(token);
    if (!c) throw denied(`${where(i)}: the token does not decode as a JWT`);
    if (c.exp * 1000 <= now && !opts.allowExpired)
      throw denied(`${where(i)}: the token expired at ${new Date(c.exp * 1000).toISOString()}`);
  }
  for (let i = 1; i <= prevIndex; i++) {
    const c = isJwt(segments[i].token) ? decodeSegmentToken(segments[i].token) : undefined;
    const before = isJwt(segments[i - 1].token) ? decodeSegmentToken(segments[i - 1].token) : undefined;
    if (c?.aud && before && c.aud !== before.sub) {
      throw denied(
        `${where(i)}: the token's audience ${c.aud} is not the subject ${before.sub} of segment ${i - 1} (re-ordered or spliced path)`,
      );
    }
  }
}

export interface AuthorizeOptions {
  /** Whose bundle verifies token certificates; default: the daemon's identity (transport-security.ts). */
  source?: X509Source;
}

class AuthorizeServer implements NetworkServiceServer {
  constructor(private readonly opts: AuthorizeOptions) {}

  private bundle(): string | undefined {
    return (this.opts.source ?? defaultSecurity().source)?.bundlePem();
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (req.connection) await checkPath(ctx, req.connection, this.bundle());
    return next.server(ctx).request(ctx, req);
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    // A Close is what expiry sends: expired tokens are expected there; the signatures still count.
    await checkPath(ctx, conn, this.bundle(), { allowExpired: true });
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: AuthorizeOptions = {}): NetworkServiceServer {
  return new AuthorizeServer(opts);
}
