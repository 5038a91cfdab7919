// updatetoken stamps this hop's path segment with a token and its expiry, and fills in the
// previous segment when the caller left it empty (an upstream client without tokens). Expiry
// drives refresh on the client and timeout on the server. Tokens are plain for now: an opaque
// JSON claim set {sub, aud, exp}; signing comes with the security work and replaces `generate`.

import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';

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
  if (previous && !previous.expires) {
    previous.expires = expires;
    previous.token ||= plainToken(previous.name, current?.name ?? '', expires.getTime());
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

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: TokenOptions = {}): NetworkServiceServer {
  return new UpdateTokenServer(opts.maxTokenLifetimeMs ?? DEFAULT_MAX_TOKEN_LIFETIME_MS);
}

/** The originating client stamps its own segment the same way. */
export const newClient = newServer;
