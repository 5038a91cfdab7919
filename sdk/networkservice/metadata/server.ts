// metadata keeps per-connection state for the elements after it, keyed by Connection.id, with
// separate halves for server-side and client-side elements. It sits right after begin, so the
// state lives exactly as long as the connection: created on the first Request, dropped on Close
// (or when the first Request fails).
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceServer } from '../../core/types.js';
import { withMetadata } from './metadata.js';

type Halves = { server: Map<symbol, unknown>; client: Map<symbol, unknown> };

class MetadataServer implements NetworkServiceServer {
  private readonly byId = new Map<string, Halves>();

  async request(ctx: Context, req: Parameters<NetworkServiceServer['request']>[1]) {
    const id = req.connection?.id ?? '';
    let halves = this.byId.get(id);
    const created = halves === undefined;
    if (!halves) {
      halves = { server: new Map(), client: new Map() };
      this.byId.set(id, halves);
    }
    try {
      return await next.server(ctx).request(withMetadata(ctx, halves), req);
    } catch (e) {
      if (created) this.byId.delete(id);
      throw e;
    }
  }

  async close(ctx: Context, conn: Parameters<NetworkServiceServer['close']>[1]) {
    const halves = this.byId.get(conn.id) ?? { server: new Map(), client: new Map() };
    try {
      await next.server(ctx).close(withMetadata(ctx, halves), conn);
    } finally {
      this.byId.delete(conn.id);
    }
  }

  /** Number of connections with state, for leak checks in tests. */
  get size(): number {
    return this.byId.size;
  }
}

export function newServer(): NetworkServiceServer & { readonly size: number } {
  return new MetadataServer();
}
