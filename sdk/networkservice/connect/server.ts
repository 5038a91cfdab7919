// connect is the last element of a passthrough chain: it sends the request on to the next hop,
// whose URL an earlier element put in the context (discoverforwarder in nsmgr, discover and
// roundrobin in the forwarder). Optional client elements run before the gRPC call, like the
// client chain inside upstream's connect. Clients are pooled per URL and reused.
//
// A new connection whose Request we gave up on (our caller cancelled, our deadline passed) may still
// have been set up by the next hop: its answer and our cancel cross on the wire, and the next hop
// then holds a connection nobody refreshes or closes until its token expires. So the gRPC call
// closes it, in the background, as a caller that gave up does: the next hop finds it by our path
// segment, also while it is still being set up (begin). A refresh we gave up on is left alone: the
// connection it refreshes is still in use.
import { type Context, withTimeout } from '../../core/context.js';
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
import { logger } from '../../tools/log.js';
import { clientURL } from '../clienturl/index.js';

const log = logger('connect');
/** How long the Close of a Request we gave up on may take. */
const GIVEN_UP_CLOSE_TIMEOUT_MS = 15_000;

/** Whether the path ends at our segment: nothing after us yet, so the next hop makes a new connection. */
function isNewDownstream(conn: Connection | undefined): boolean {
  const path = conn?.path;
  return path !== undefined && path.index === path.pathSegments.length - 1;
}

/** The tail of the client chain: the gRPC call itself. */
class GrpcCall implements NetworkServiceClient {
  constructor(private readonly pool: ClientPool) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const url = clientURL(ctx);
    if (!url) throw internal('connect: no next-hop URL in the context (nothing selected a next hop)');
    const fresh = isNewDownstream(req.connection);
    try {
      return await this.pool.request(ctx, url, req);
    } catch (e) {
      if (fresh && ctx.signal.aborted && req.connection) this.closeGivenUp(ctx, url, req.connection);
      throw e;
    }
  }

  private closeGivenUp(ctx: Context, url: string, conn: Connection): void {
    const { ctx: closing, cancel } = withTimeout(
      { signal: new AbortController().signal, values: ctx.values },
      GIVEN_UP_CLOSE_TIMEOUT_MS,
    );
    this.pool
      .closeConnection(closing, url, conn)
      .catch((e: unknown) => log.debug({ err: e, id: conn.id, url }, 'close of a request given up failed'))
      .finally(() => cancel());
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
