// allowpeer (forwarder, first after the common prefix) serves Request and Close only to the process
// that listens on a given unix socket: the local nsmgr. A forwarder acts on any namespace it is
// told, so everything it gets must have passed the nsmgr's checks (netnsowner); a client that
// dialled the forwarder's socket directly would skip them. The kernel tells us who the caller is
// (sdk/tools/unixpeer), and /proc whether it listens on the nsmgr's socket; the verdict is kept per
// connection, so only a connection's first call reads /proc.
//
// MonitorConnections is not a NetworkService call and is not affected. In-process calls (no
// transport) pass; a tcp caller is refused (the forwarder serves on a unix socket only).
import { status } from '@grpc/grpc-js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorMessage, NsmError } from '../../errors/index.js';
import {
  describePeer,
  type Peer,
  peerFrom,
  pidListensOn,
  type UnixPeer,
} from '../../tools/unixpeer/index.js';

export interface AllowPeerOptions {
  /** The unix socket path the allowed process listens on (the nsmgr's). */
  readonly listensOn: string;
  /** Whether `pid` listens on `path` (tests fake /proc). */
  readonly listens?: (pid: number, path: string) => Promise<boolean>;
}

class AllowPeerServer implements NetworkServiceServer {
  private readonly verdicts = new WeakMap<UnixPeer, Promise<boolean>>();
  private readonly listens: (pid: number, path: string) => Promise<boolean>;

  constructor(private readonly opts: AllowPeerOptions) {
    this.listens = opts.listens ?? ((pid, path) => pidListensOn(pid, path));
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    await this.check(peerFrom(ctx), 'request');
    return next.server(ctx).request(ctx, req);
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    await this.check(peerFrom(ctx), 'close');
    return next.server(ctx).close(ctx, conn);
  }

  private async check(peer: Peer | undefined, verb: string): Promise<void> {
    if (!peer) return;
    const refuse = (why: string) =>
      new NsmError(
        status.PERMISSION_DENIED,
        `failed to ${verb}: only the nsmgr on ${this.opts.listensOn} may call, ${why}`,
      );
    if (peer.transport !== 'unix') throw refuse(`not a ${describePeer(peer)}`);
    let verdict = this.verdicts.get(peer);
    if (!verdict) {
      verdict = this.judge(peer);
      this.verdicts.set(peer, verdict);
    }
    let ok: boolean;
    try {
      ok = await verdict;
    } catch (e) {
      this.verdicts.delete(peer); // a lookup that failed mid-scan is asked again next time
      throw refuse(`and the calling process cannot be found (${getErrorMessage(e)})`);
    }
    if (!ok) throw refuse('and the calling process does not listen there');
  }

  private async judge(peer: UnixPeer): Promise<boolean> {
    for (const pid of await peer.pids()) if (await this.listens(pid, this.opts.listensOn)) return true;
    return false;
  }
}

/** Serves Request/Close only to the process listening on `listensOn`. */
export function newServer(opts: AllowPeerOptions): NetworkServiceServer {
  if (!opts?.listensOn) throw new Error('allowpeer: listensOn (a unix socket path) is required');
  return new AllowPeerServer(opts);
}
