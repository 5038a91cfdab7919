// updatetoken keeps the tokens and expiries on the path current: on every Request and Close
// (refresh included) it writes the caller's token and expiry into the previous segment and stamps
// this hop's segment with a fresh token expiring now + the maximum lifetime. Expiry drives refresh
// on the client and timeout on the server, so a stale expiry here means a connection torn down
// under a client that did refresh.
//
// Where the caller's token comes from, as upstream does it (sdk updatetoken server + tools/token):
//  - the call's metadata `nsm-client-token` / `nsm-client-token-expires`: upstream clients send
//    them only there, and our hops send them too (ClientPool.request). They win;
//  - without that metadata (an in-process call, a plain client) the previous segment is kept when
//    its caller stamped it, and (re)stamped with now + lifetime when it is empty or carries the
//    stamp this element put there on an earlier call (recognised by recomputing it), so a plain
//    client that sends back the connection it got is renewed, not left to expire.
// Malformed metadata (one key alone, a bad time) is refused with InvalidArgument naming the key.
//
// Our own token: with an identity (an X509Source, by default the daemon's, transport-security.ts)
// a JWT signed ES256 with the SVID key, sub = our SPIFFE ID, aud = the TLS caller's SPIFFE ID (empty
// for a unix-socket caller), exp = the segment's expiry, capped at the SVID's expiry (tools/token/
// jwt.ts). Without one (insecure mode) a plain, unsigned claim set {sub, aud, exp} as before.

import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { defaultSecurity } from '../../grpc/transport-security.js';
import { peerIdentity } from '../../tools/spiffe/peer.js';
import type { X509Source } from '../../tools/spiffe/source.js';
import { peerToken } from '../../tools/token/index.js';
import { signSegmentToken } from '../../tools/token/jwt.js';

export const DEFAULT_MAX_TOKEN_LIFETIME_MS = 10 * 60_000;

export interface TokenOptions {
  /** NSM_MAX_TOKEN_LIFETIME in milliseconds. */
  maxTokenLifetimeMs?: number;
  /** Signs our tokens; default: the identity the daemon's main set up (none: plain tokens). */
  source?: X509Source;
}

export function plainToken(sub: string, aud: string, expiresMs: number): string {
  return Buffer.from(JSON.stringify({ sub, aud, exp: Math.floor(expiresMs / 1000) })).toString('base64url');
}

async function stamp(ctx: Context, conn: Connection, lifetimeMs: number, source?: X509Source): Promise<void> {
  const path = conn.path;
  if (!path) return;
  const now = clock(ctx).now();
  const expires = new Date(now + lifetimeMs);
  const current = path.pathSegments[path.index];
  const previous = path.index > 0 ? path.pathSegments[path.index - 1] : undefined;
  if (previous) {
    const sent = peerToken(ctx);
    if (!sent.ok) throw sent.error;
    if (sent.value) {
      previous.token = sent.value.token;
      previous.expires = new Date(sent.value.expiresMs);
    } else {
      const ourStamp =
        previous.expires !== undefined &&
        previous.token === plainToken(previous.name, current?.name ?? '', previous.expires.getTime());
      if (!previous.expires || ourStamp) {
        previous.expires = expires;
        if (!previous.token || ourStamp) {
          previous.token = plainToken(previous.name, current?.name ?? '', expires.getTime());
        }
      }
    }
  }
  if (current && source) {
    const svid = source.svid();
    const expiresMs = Math.min(expires.getTime(), svid.notAfterMs);
    current.expires = new Date(expiresMs);
    current.token = await signSegmentToken(
      svid.key,
      {
        sub: svid.spiffeId.id,
        aud: peerIdentity(ctx)?.id ?? '',
        expiresMs,
        segmentId: current.id,
      },
      svid.leaf,
    );
  } else if (current) {
    current.expires = expires;
    current.token = plainToken(current.name, previous?.name ?? '', expires.getTime());
  }
}

class UpdateTokenServer implements NetworkServiceServer {
  constructor(
    private readonly lifetimeMs: number,
    private readonly source: X509Source | undefined,
  ) {}

  // Looked up per call: chains are built before or after the main sets the identity up.
  private signer(): X509Source | undefined {
    return this.source ?? defaultSecurity().source;
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (req.connection) await stamp(ctx, req.connection, this.lifetimeMs, this.signer());
    return next.server(ctx).request(ctx, req);
  }

  // Close too: upstream's does, and the next hop's Close then carries our current token.
  async close(ctx: Context, conn: Connection): Promise<void> {
    await stamp(ctx, conn, this.lifetimeMs, this.signer());
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: TokenOptions = {}): NetworkServiceServer {
  return new UpdateTokenServer(opts.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_MS, opts.source);
}

/** The originating client stamps its own segment the same way. */
export const newClient = newServer;
