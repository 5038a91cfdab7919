// The caller's SPIFFE ID, as the TLS handshake proved it, carried in the call's Context.
// contextFromCall puts it there; authorization and token checks read it. Absent: the call came
// over a plaintext transport (a unix socket, insecure mode) or from inside the process.
import { type Context, value, withValue } from '../../core/context.js';
import type { SpiffeId } from './spiffe-id.js';

const PEER_ID = Symbol('peer-spiffe-id');

export function withPeerIdentity(ctx: Context, id: SpiffeId | undefined): Context {
  return id ? withValue(ctx, PEER_ID, id) : ctx;
}

export function peerIdentity(ctx: Context): SpiffeId | undefined {
  return value<SpiffeId>(ctx, PEER_ID);
}
