// The caller's identity, as the TLS handshake proved it, carried in the call's Context:
// its SPIFFE ID and its certificate's public key (to verify the tokens it signed).
// contextFromCall puts it there; authorize reads it. Absent: the call came over a plaintext
// transport (a unix socket, insecure mode) or from inside the process.
import type { KeyObject } from 'node:crypto';
import { type Context, value, withValue } from '../../core/context.js';
import type { SpiffeId } from './spiffe-id.js';

export interface Peer {
  readonly spiffeId: SpiffeId;
  readonly publicKey: KeyObject;
}

const PEER = Symbol('tls-peer');

/** An Error: the caller came over TLS but its certificate has no usable SPIFFE ID (refused by authorize). */
export function withPeer(ctx: Context, peer: Peer | Error | undefined): Context {
  return peer ? withValue(ctx, PEER, peer) : ctx;
}

export function peerOf(ctx: Context): Peer | Error | undefined {
  return value<Peer | Error>(ctx, PEER);
}

/** The caller's SPIFFE ID, when it came over mTLS with a valid one. */
export function peerIdentity(ctx: Context): SpiffeId | undefined {
  const p = peerOf(ctx);
  return p && !(p instanceof Error) ? p.spiffeId : undefined;
}
