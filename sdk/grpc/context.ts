// Builds a Context for an incoming gRPC call: aborted when the caller cancels or goes away, or when
// `base` is aborted (the server is closing: in-flight work must stop, not outlive the daemon), with
// the caller's deadline when it set one, or base's when that is earlier, and the caller's Peer. It
// also carries the token and expiry the caller sent as upstream's per-call metadata (updatetoken
// reads them), the caller's SPIFFE ID when the call came over mTLS, and the caller's other headers.

import { status } from '@grpc/grpc-js';
import type { ServerSurfaceCall } from '@grpc/grpc-js/build/src/server-call.js';
import { background, type Context, followParent } from '../core/context.js';
import { NsmError } from '../errors/index.js';
import { peerFromAuthContext } from '../tools/spiffe/credentials.js';
import { withPeer as withSpiffePeer } from '../tools/spiffe/peer.js';
import { fromMetadata, withPeerToken } from '../tools/token/index.js';
import { peerOfCall, withPeer } from '../tools/unixpeer/index.js';
import { withIncomingMetadata } from './metadata.js';

export interface CallContext {
  ctx: Context;
  /**
   * The call is answered: stop following base and the call's cancellation (its work may go on,
   * see followParent). Call it before the next tick.
   */
  done: () => void;
}

export function contextFromCall(call: ServerSurfaceCall, base: Context = background()): CallContext {
  const followed = followParent(base);
  const onCancelled = () =>
    followed.abort(new NsmError(status.CANCELLED, 'the call was cancelled by the caller'));
  call.on('cancelled', onCancelled);
  if ((call as { cancelled?: boolean }).cancelled) onCancelled();
  const deadline = call.getDeadline();
  const callDeadline =
    deadline instanceof Date ? deadline.getTime() : Number.isFinite(deadline) ? deadline : undefined;
  const deadlines = [callDeadline, base.deadline].filter((d): d is number => d !== undefined);
  // Who is calling (unix: the peer process, looked up lazily; tcp: the address), for the elements
  // that decide by the caller (sdk/tools/unixpeer).
  const ctx: Context = withPeer(
    {
      ...followed.ctx,
      deadline: deadlines.length > 0 ? Math.min(...deadlines) : undefined,
    },
    peerOfCall(call.getPeer()),
  );
  // The TLS layer accepted only peers chaining to our bundle; one whose certificate still has no
  // usable SPIFFE ID is carried as an Error, which authorize refuses.
  const secured = withPeerToken(
    withSpiffePeer(ctx, peerFromAuthContext(call.getAuthContext?.())),
    fromMetadata(call.metadata),
  );
  // the caller's headers (e.g. W3C traceparent) for the elements; see metadata.ts
  return {
    ctx: call.metadata ? withIncomingMetadata(secured, call.metadata) : secured,
    done: () => {
      // grpc-js emits 'cancelled' after every call it answered (1.14: notifyOnCancel after the
      // status): by then it says nothing, and aborting would stop work the call left running.
      call.off('cancelled', onCancelled);
      followed.unlink();
    },
  };
}
