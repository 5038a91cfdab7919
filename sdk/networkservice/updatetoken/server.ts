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
// Tokens are plain for now: an opaque JSON claim set {sub, aud, exp}.

import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { peerToken } from '../../tools/token/index.js';

export const DEFAULT_MAX_TOKEN_LIFETIME_MS = 10 * 60_000;

export interface TokenOptions {
  /** NSM_MAX_TOKEN_LIFETIME in milliseconds. */
  maxTokenLifetimeMs?: number;
}

export function plainToken(sub: string, aud: string, expiresMs: number): string {
  return Buffer.from(JSON.stringify({ sub, aud, exp: Math.floor(expiresMs / 1000) })).toString('base64url');
}

function stamp(ctx: Context, conn: Connection, lifetimeMs: number): void {
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
  if (current) {
    current.expires = expires;
    current.token = plainToken(current.name, previous?.name ?? '', expires.getTime());
  }
}

class UpdateTokenServer implements NetworkServiceServer {
  constructor(private readonly lifetimeMs: number) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (req.connection) stamp(ctx, req.connection, this.lifetimeMs);
    return next.server(ctx).request(ctx, req);
  }

  // Close too: upstream's does, and the next hop's Close then carries our current token.
  async close(ctx: Context, conn: Connection): Promise<void> {
    stamp(ctx, conn, this.lifetimeMs);
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: TokenOptions = {}): NetworkServiceServer {
  return new UpdateTokenServer(opts.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_MS);
}

/** The originating client stamps its own segment the same way. */
export const newClient = newServer;
