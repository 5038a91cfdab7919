// The client-side updatepath: the originating client's own segment (index 0) is created here.
// Unlike the server side it does not restore an earlier index: the client is the first hop.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { invalidArgument } from '../../errors/index.js';
import { updatePath } from './common.js';
import { restoreCaller } from './server.js';

class UpdatePathClient implements NetworkServiceClient {
  constructor(private readonly name: string) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (!req.connection) throw invalidArgument('request has no connection');
    updatePath(req.connection, this.name);
    const ownIndex = req.connection.path?.index ?? 0;
    const conn = await next.client(ctx).request(ctx, req);
    restoreCaller(conn, ownIndex);
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    updatePath(conn, this.name);
    await next.client(ctx).close(ctx, conn);
  }
}

export function newClient(name: string): NetworkServiceClient {
  if (!name) throw new Error('updatepath: name is required');
  return new UpdatePathClient(name);
}
