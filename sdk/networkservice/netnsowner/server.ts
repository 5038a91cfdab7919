// netnsowner (nsmgr, first after the common prefix) lets a caller get interfaces only into the
// network namespace its own process is in. Upstream gets this for free: the client hands over its
// namespace as a file descriptor, and nobody can pass a descriptor they do not hold. Node cannot
// receive descriptors, so our clients *name* their namespace (inodeURL), and a name can be a lie:
// this element checks it against the kernel's answer to "who is on the other end of this socket"
// (sdk/tools/unixpeer), so it holds even in insecure mode, with no identities at all.
//
//   unix caller (pid P)  ─▶ every KERNEL mechanism's inodeURL must resolve to /proc/P/ns/net
//   tcp caller           ─▶ may name no namespace of this node at all (a remote nsmgr asks for VXLAN)
//   in-process call      ─▶ not checked (no transport: a refresh or a test inside this daemon)
//
// Every refusal is PERMISSION_DENIED naming the namespace; a URL that names no namespace keeps the
// resolver's INVALID_ARGUMENT / NOT_FOUND. Close is not checked: it removes, and whose connection
// it may remove is a matter of identities (path tokens), not of namespaces.

import { status } from '@grpc/grpc-js';
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorMessage, NsmError } from '../../errors/index.js';
import type { NetnsResolver } from '../../kernel/netns.js';
import { describePeer, type Peer, peerFrom, peerNetns } from '../../tools/unixpeer/index.js';
import { KERNEL, PARAM_INODE_URL } from '../mechanisms/common.js';

export interface NetnsOwnerOptions {
  /** Resolves an inodeURL to the namespace's identity (the daemon's resolver; a fake in tests). */
  readonly resolver: NetnsResolver;
}

interface Named {
  where: string;
  url: string;
}

/** Every namespace a request names: KERNEL mechanisms, offered or already chosen. */
export function namespacesNamed(req: NetworkServiceRequest): Named[] {
  const out: Named[] = [];
  const add = (m: Mechanism | undefined, where: string) => {
    const url = m?.parameters?.[PARAM_INODE_URL];
    if (m?.type === KERNEL && url !== undefined) out.push({ where, url });
  };
  for (const [i, m] of req.mechanismPreferences.entries()) add(m, `mechanism_preferences[${i}]`);
  add(req.connection?.mechanism, 'connection.mechanism');
  return out;
}

const denied = (url: string, why: string) =>
  new NsmError(status.PERMISSION_DENIED, `failed to use network namespace ${JSON.stringify(url)}: ${why}`);

class NetnsOwnerServer implements NetworkServiceServer {
  constructor(private readonly opts: NetnsOwnerOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const peer = peerFrom(ctx);
    const named = namespacesNamed(req);
    if (peer && named.length > 0) await this.check(peer, named);
    return next.server(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }

  private async check(peer: Peer, named: Named[]): Promise<void> {
    if (peer.transport !== 'unix') {
      throw denied(named[0].url, `a ${describePeer(peer)} cannot name a network namespace on this node`);
    }
    let netns: Map<number, string | undefined>;
    try {
      netns = await peerNetns(peer);
    } catch (e) {
      throw denied(named[0].url, `cannot tell which process is calling (${getErrorMessage(e)})`);
    }
    for (const { url } of named) {
      const { inode } = await this.opts.resolver.resolve(url);
      for (const [pid, own] of netns) {
        if (own !== inode) {
          throw denied(
            url,
            `it is ${inode}, not the caller's namespace (pid ${pid} is in ${own ?? 'no namespace: gone'})`,
          );
        }
      }
    }
  }
}

/** Refuses KERNEL mechanisms naming a namespace the calling process is not in. */
export function newServer(opts: NetnsOwnerOptions): NetworkServiceServer {
  if (!opts?.resolver) throw new Error('netnsowner: a resolver is required');
  return new NetnsOwnerServer(opts);
}
