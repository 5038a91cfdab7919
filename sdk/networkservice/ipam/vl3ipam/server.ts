// vl3ipam (vL3 endpoint) addresses a connection into the vL3 network:
//
//   member (client):  src = a free address of this replica's slice, dst = the replica's address;
//                     the member routes the whole vL3 prefix via the replica (split around the
//                     request's excluded prefixes: the cluster's CIDRs and the client's other
//                     connections; all of it excluded = FAILED_PRECONDITION), the replica routes the
//                     member's /32 to its interface.
//   peer replica:     (request label vl3Slice=<its slice>, src = its own address) dst = our address;
//                     each side routes the other's slice via the other's address.
//
// A member (known by its originating path segment id) keeps its address across refreshes and heals;
// after this replica restarted it gets its address back from the restored state (or the one it carries,
// if free), and a new member never gets an address a member still holds. Addresses
// are freed on Close and when a first Request fails further down.
// Chain placement: in the vL3 endpoint, before the mechanism.
import { ConnectionContext, IPContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../../core/types.js';
import { failedPrecondition, invalidArgument } from '../../../errors/index.js';
import { parseCidr } from '../../../tools/ippool/ip.js';
import { subtractPrefixes } from '../../excludedprefixes/common.js';
import { PEER_LABEL, replicaAddress, type SliceAddresses } from './common.js';

export interface Vl3IpamOptions {
  /** The whole vL3 prefix, e.g. 172.16.0.0/16: members get a route to it. */
  readonly network: string;
  /** This replica's addresses (its slice set by the prefix client). */
  readonly addresses: SliceAddresses;
}

class Vl3IpamServer implements NetworkServiceServer {
  constructor(private readonly opts: Vl3IpamOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= IPContext.fromPartial({});
    const ip = conn.context.ipContext;
    const slice = this.opts.addresses.slice;
    const own = slice ? replicaAddress(slice) : undefined;
    const peerSlice = conn.labels?.[PEER_LABEL];
    let fresh = false;
    if (peerSlice) {
      const peerAddr = ip.srcIpAddrs[0];
      if (!peerAddr || !own || !slice) {
        throw invalidArgument(
          `vL3 peer request ${conn.id} needs src_ip_addrs[0] (its address) and a slice here`,
        );
      }
      parseCidr(peerSlice);
      ip.srcIpAddrs = [peerAddr];
      ip.dstIpAddrs = [own];
      ip.srcRoutes = [{ prefix: slice, nextHop: hostOf(own) }];
      ip.dstRoutes = [{ prefix: peerSlice, nextHop: hostOf(peerAddr) }];
    } else {
      const routes = subtractPrefixes(this.opts.network, ip.excludedPrefixes);
      if (routes.length === 0) {
        throw failedPrecondition(
          `failed to connect ${conn.id}: the vL3 prefix ${this.opts.network} lies inside the excluded prefixes ${ip.excludedPrefixes.join(', ')} (another connection of this client, or the cluster's)`,
        );
      }
      fresh = !this.opts.addresses.has(memberKey(conn));
      const addr = this.opts.addresses.allocate(memberKey(conn), ip.srcIpAddrs, ip.excludedPrefixes);
      this.opts.addresses.setHolder(memberKey(conn), conn.id);
      ip.srcIpAddrs = [addr];
      ip.dstIpAddrs = [own!];
      ip.srcRoutes = routes.map((prefix) => ({ prefix, nextHop: hostOf(own!) }));
      ip.dstRoutes = [];
    }
    try {
      return await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (fresh && !peerSlice) this.opts.addresses.releaseIfHeldBy(memberKey(conn), conn.id);
      throw e;
    }
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      this.opts.addresses.releaseIfHeldBy(memberKey(conn), conn.id);
    }
  }
}

/**
 * A member is known by its own (originating) path segment id: it stays the same when the member heals
 * to a new path or comes back after this replica restarted, while our segment's id may not.
 */
export function memberKey(conn: Connection): string {
  return conn.path?.pathSegments[0]?.id || conn.id;
}

function hostOf(cidr: string): string {
  return cidr.split('/')[0];
}

export function newServer(opts: Vl3IpamOptions): NetworkServiceServer {
  parseCidr(opts.network);
  return new Vl3IpamServer(opts);
}
