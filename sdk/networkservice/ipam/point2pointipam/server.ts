// point2pointipam (endpoint) gives each connection two addresses from the endpoint's CIDRs, one
// for each end, with host routes to the other end (see sdk/tools/ippool/point-to-point.ts for the
// rules). It honours excluded_prefixes and keeps a connection's addresses across refreshes and
// reconnects. Addresses are freed on Close, and when a first Request fails further down.
//
// The endpoint side is the endpoint's: destination addresses from outside its CIDRs and every
// destination route a client sends are dropped, never installed. One client (the name of the
// path's first segment: the workload, or the nsmgr that made the first segment for a client that
// sent none) holds at most `maxLeasesPerClient` connections (default: half of the pool), so one
// client cannot drain the pool for the others; past it, RESOURCE_EXHAUSTED.

import { status } from '@grpc/grpc-js';
import { ConnectionContext, IPContext } from '../../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../../core/context.js';
import * as next from '../../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../../core/types.js';
import { NsmError } from '../../../errors/index.js';
import { PointToPointAllocator } from '../../../tools/ippool/index.js';

export interface Point2PointIpamOptions {
  /** Most connections one client may hold at once (default: half of the pool, at least 1). */
  readonly maxLeasesPerClient?: number;
}

/** Who a connection belongs to, for the per-client bound: the path's first segment. */
export function clientOf(conn: Connection): string {
  return conn.path?.pathSegments[0]?.name ?? '';
}

export function emptyIpContext(): IPContext {
  return IPContext.fromPartial({});
}

class Point2PointIpamServer implements NetworkServiceServer {
  /** Client → the ids of the connections it holds addresses for (shared across connections). */
  private readonly byClient = new Map<string, Set<string>>();
  /** Connection id → the client it was counted for (a later path may name another first segment). */
  private readonly counted = new Map<string, string>();
  private readonly maxPerClient: number;

  constructor(
    private readonly allocator: PointToPointAllocator,
    opts: Point2PointIpamOptions,
  ) {
    this.maxPerClient = opts.maxLeasesPerClient ?? Math.max(1, Math.floor(allocator.capacity / 2));
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= emptyIpContext();
    this.allocator.ownEndpointSide(conn.context.ipContext);
    const client = clientOf(conn);
    const held = this.byClient.get(client) ?? new Set<string>();
    if (!held.has(conn.id) && held.size >= this.maxPerClient) {
      throw new NsmError(
        status.RESOURCE_EXHAUSTED,
        `failed to allocate addresses for connection "${conn.id}": client "${client}" already holds ${held.size} (the most one client may hold)`,
      );
    }
    const { fresh } = this.allocator.allocate(conn.id, conn.context.ipContext);
    if (!this.counted.has(conn.id)) {
      held.add(conn.id);
      this.byClient.set(client, held);
      this.counted.set(conn.id, client);
    }
    try {
      return await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (fresh) this.release(conn);
      throw e;
    }
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      this.release(conn);
    }
  }

  private release(conn: Connection): void {
    this.allocator.release(conn.id);
    const client = this.counted.get(conn.id);
    if (client === undefined) return;
    this.counted.delete(conn.id);
    const held = this.byClient.get(client);
    held?.delete(conn.id);
    if (held?.size === 0) this.byClient.delete(client);
  }
}

/** One allocator per endpoint; throws INVALID_ARGUMENT for a malformed CIDR. */
export function newServer(cidrs: readonly string[], opts: Point2PointIpamOptions = {}): NetworkServiceServer {
  return new Point2PointIpamServer(new PointToPointAllocator(cidrs), opts);
}
