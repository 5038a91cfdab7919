// updatepath is the first element of every chain: it makes this hop's path segment current and
// sets Connection.id to that segment's id, so every element after it sees this hop's id. On the
// way back it restores the caller's index and id, so the caller gets its own view back. A Request
// from another process whose path already passes through this hop is a loop, refused at once.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { failedPrecondition, invalidArgument } from '../../errors/index.js';
import { peerFrom } from '../../tools/unixpeer/index.js';
import { loopSegment, updatePath } from './common.js';

class UpdatePathServer implements NetworkServiceServer {
  constructor(private readonly name: string) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (!req.connection) throw invalidArgument('request has no connection');
    // Only a call from another process can be a loop; in-process re-entry (events) is not.
    const loop = peerFrom(ctx) ? loopSegment(req.connection, this.name) : undefined;
    if (loop !== undefined) {
      throw failedPrecondition(
        `failed to request: a loop, the path already passes through "${this.name}" (segment ${loop}: ${req.connection.path?.pathSegments.map((s) => s.name).join(' -> ')})`,
      );
    }
    const callerIndex = updatePath(req.connection, this.name);
    const conn = await next.server(ctx).request(ctx, req);
    restoreCaller(conn, callerIndex);
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    updatePath(conn, this.name);
    await next.server(ctx).close(ctx, conn);
  }
}

export function restoreCaller(conn: Connection, callerIndex: number): void {
  if (!conn.path) return;
  conn.path.index = callerIndex;
  conn.id = conn.path.pathSegments[callerIndex]?.id ?? conn.id;
}

export function newServer(name: string): NetworkServiceServer {
  if (!name) throw new Error('updatepath: name is required');
  return new UpdatePathServer(name);
}
