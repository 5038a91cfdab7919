// connect is the last element of a passthrough chain: it sends the request on to the next hop,
// whose URL an earlier element put in the context (discoverforwarder in nsmgr, discover and
// roundrobin in the forwarder). Optional client elements run before the gRPC call, like the
// client chain inside upstream's connect. Clients are pooled per URL and reused.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type {
  Connection,
  NetworkServiceClient,
  NetworkServiceRequest,
  NetworkServiceServer,
} from '../../core/types.js';
import { internal } from '../../errors/index.js';
import type { ClientPool } from '../../grpc/client-pool.js';
import { clientURL } from '../clienturl/index.js';

/** The tail of the client chain: the gRPC call itself. */
class GrpcCall implements NetworkServiceClient {
  constructor(private readonly pool: ClientPool) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const url = clientURL(ctx);
    if (!url) throw internal('connect: no next-hop URL in the context (nothing selected a next hop)');
    return this.pool.request(ctx, url, req);
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const url = clientURL(ctx);
    if (!url) return;
    await this.pool.closeConnection(ctx, url, conn);
  }
}

class ConnectServer implements NetworkServiceServer {
  private readonly client: NetworkServiceClient;

  constructor(pool: ClientPool, clientElements: NetworkServiceClient[]) {
    this.client = newNetworkServiceChain(...clientElements, new GrpcCall(pool));
  }

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    return this.client.request(ctx, req);
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    try {
      await this.client.close(ctx, conn);
    } finally {
      await next.server(ctx).close(ctx, conn);
    }
  }
}

export function newServer(pool: ClientPool, ...clientElements: NetworkServiceClient[]): NetworkServiceServer {
  return new ConnectServer(pool, clientElements);
}
