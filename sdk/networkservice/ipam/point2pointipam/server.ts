// point2pointipam (endpoint) gives each connection two addresses from the endpoint's CIDRs, one
// for each end, with host routes to the other end (see sdk/tools/ippool/point-to-point.ts for the
// rules). It honours excluded_prefixes and keeps a connection's addresses across refreshes and
// reconnects. Addresses are freed on Close, and when a first Request fails further down.
import { ConnectionContext, IPContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../../core/types.js';
import { PointToPointAllocator } from '../../../tools/ippool/index.js';

export function emptyIpContext(): IPContext {
  return IPContext.fromPartial({});
}

class Point2PointIpamServer implements NetworkServiceServer {
  constructor(private readonly allocator: PointToPointAllocator) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= emptyIpContext();
    const { fresh } = this.allocator.allocate(conn.id, conn.context.ipContext);
    try {
      return await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (fresh) this.allocator.release(conn.id);
      throw e;
    }
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      this.allocator.release(conn.id);
    }
  }
}

/** One allocator per endpoint; throws INVALID_ARGUMENT for a malformed CIDR. */
export function newServer(cidrs: readonly string[]): NetworkServiceServer {
  return new Point2PointIpamServer(new PointToPointAllocator(cidrs));
}
