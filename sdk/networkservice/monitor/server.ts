// monitor records every connection this chain holds in a ConnectionMonitor, which serves the
// MonitorConnections stream of this daemon. It sits after begin and metadata, so it sees this
// hop's connection id, and records a connection only after the rest of the chain succeeded.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import type { ConnectionMonitor } from './monitor.js';

class MonitorServer implements NetworkServiceServer {
  constructor(private readonly monitor: ConnectionMonitor) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.server(ctx).request(ctx, req);
    this.monitor.update(conn);
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      this.monitor.delete(conn);
    }
  }
}

export function newServer(monitor: ConnectionMonitor): NetworkServiceServer {
  return new MonitorServer(monitor);
}
