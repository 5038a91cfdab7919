// socketowner (nsmgr, NSE registry, first) makes a registration of a local socket belong to the
// process that listens on it. Without identities (insecure mode) that is the strongest owner we can
// name: the kernel tells us who is on the other end of the registering connection (unixpeer), and
// /proc tells us which sockets that process listens on.
//
//   Register   unix:///PATH     the caller must listen on PATH           else PERMISSION_DENIED
//              inode://DEV/INO  (upstream: the socket file, passed by fd) resolved to the socket
//                               file the caller listens on, and registered as unix://; none
//                               matches: FAILED_PRECONDITION (Node cannot receive the fd)
//              from a tcp peer: no unix:// or inode:// URL (a remote peer has no socket here)
//   Unregister a name registered through this nsmgr: only by a process listening on its socket
//              (the URL in the request may be empty, as upstream's endpoints send it)
//
// tcp:// URLs (an endpoint serving over tcp) are left to the registry's owner element (owner by URL).
// In-process calls (no transport) are not checked. It sits first: localbypass, next, rewrites URLs.
import { status } from '@grpc/grpc-js';
import type {
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { FindSink, NseRegistry } from '../../core/types.js';
import { failedPrecondition, getErrorMessage, invalidArgument, NsmError } from '../../errors/index.js';
import { describePeer, type Peer, peerFrom, pidListensOn } from '../../tools/unixpeer/index.js';
import { checkUrl } from '../validate/common.js';
import { parseInodeURL, resolveSocketInode } from './common.js';

type Nse = NetworkServiceEndpoint;
const following = (ctx: Context) =>
  next.registry<Nse, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx);

const denied = (name: string, why: string) =>
  new NsmError(status.PERMISSION_DENIED, `failed to accept endpoint "${name.slice(0, 64)}": ${why}`);

async function callerPids(peer: Peer, name: string): Promise<number[]> {
  if (peer.transport !== 'unix') throw denied(name, `a ${describePeer(peer)} has no socket on this node`);
  try {
    return await peer.pids();
  } catch (e) {
    throw denied(name, `cannot tell which process is calling (${getErrorMessage(e)})`);
  }
}

async function someListens(pids: number[], path: string): Promise<boolean> {
  for (const pid of pids) if (await pidListensOn(pid, path)) return true;
  return false;
}

class SocketOwner implements NseRegistry {
  /** Endpoint name → the unix socket path it was registered with through this nsmgr. */
  private readonly sockets = new Map<string, string>();

  async register(ctx: Context, nse: Nse): Promise<Nse> {
    const peer = peerFrom(ctx);
    let url = nse.url;
    if (peer && url.startsWith('inode://')) url = await this.resolveInode(peer, nse);
    else if (peer && url.startsWith('unix://')) {
      const problem = checkUrl('url', url); // a malformed URL is INVALID_ARGUMENT, whoever sends it
      if (problem)
        throw invalidArgument(
          `failed to register network service endpoint "${nse.name.slice(0, 64)}": ${problem}`,
        );
      const path = url.slice('unix://'.length);
      if (!(await someListens(await callerPids(peer, nse.name), path))) {
        throw denied(nse.name, `the calling process does not listen on ${url}`);
      }
    }
    const resp = await following(ctx).register(ctx, { ...nse, url });
    if (url.startsWith('unix://')) this.sockets.set(nse.name, url.slice('unix://'.length));
    return resp;
  }

  find(ctx: Context, query: NetworkServiceEndpointQuery, sink: FindSink<NetworkServiceEndpointResponse>) {
    return following(ctx).find(ctx, query, sink);
  }

  async unregister(ctx: Context, nse: Nse): Promise<void> {
    const peer = peerFrom(ctx);
    const path = this.sockets.get(nse.name);
    if (peer && path !== undefined) {
      if (!(await someListens(await callerPids(peer, nse.name), path))) {
        throw new NsmError(
          status.PERMISSION_DENIED,
          `failed to unregister endpoint "${nse.name}": it belongs to the process listening on unix://${path}, not to the caller`,
        );
      }
      await following(ctx).unregister(ctx, { ...nse, url: nse.url.startsWith('inode://') ? '' : nse.url });
      this.sockets.delete(nse.name);
      return;
    }
    await following(ctx).unregister(ctx, nse);
  }

  private async resolveInode(peer: Peer, nse: Nse): Promise<string> {
    const parsed = parseInodeURL(nse.url);
    if (!parsed) {
      throw new NsmError(
        status.INVALID_ARGUMENT,
        `failed to accept endpoint "${nse.name}": url ${JSON.stringify(nse.url)} is not inode://DEV/INO`,
      );
    }
    for (const pid of await callerPids(peer, nse.name)) {
      const url = await resolveSocketInode(pid, parsed.dev, parsed.ino);
      if (url) return url;
    }
    throw failedPrecondition(
      `failed to accept endpoint "${nse.name}": ${nse.url} is no socket file the calling process listens on (this nsmgr cannot receive the socket as a file descriptor; register a unix:// URL)`,
    );
  }
}

/** Local socket registrations belong to the process listening on the socket. */
export function newNseServer(): NseRegistry {
  return new SocketOwner();
}
