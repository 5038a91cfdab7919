// The shape of every NetworkService client (upstream sdk chains/client): the nsc, and any program
// that asks the mesh for a connection. The prefix names the client's path segment, serialises the
// connection's events, signs the segment, keeps per-connection state, refreshes the connection before
// any hop's segment expires, sends it to the local nsmgr and (optionally) watches and heals it;
// `additionalFunctionality` (mechanism, labels) runs last, right before the gRPC call.
import type { Context } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../../core/types.js';
import type { ClientPool } from '../../../grpc/client-pool.js';
import * as begin from '../../begin/index.js';
import * as clienturl from '../../clienturl/index.js';
import * as connect from '../../connect/index.js';
import * as heal from '../../heal/index.js';
import * as logscope from '../../logscope/index.js';
import * as metadata from '../../metadata/index.js';
import * as refresh from '../../refresh/index.js';
import * as trace from '../../trace/index.js';
import * as updatepath from '../../updatepath/index.js';
import * as updatetoken from '../../updatetoken/index.js';

export interface ClientOptions {
  /** Name on the client's path segment (index 0). */
  name: string;
  /** The local nsmgr. */
  connectTo: string;
  /** The daemon's pool: the calls, and heal's monitor stream, go through it. */
  pool: ClientPool;
  /** Lifetime of the token and expiry on the client's segment. */
  maxTokenLifetimeMs?: number;
  /** Heal on monitor events (and the data-plane check, if given); absent: no healing. */
  heal?: Omit<heal.HealOptions, 'pool'>;
  /** Refresh before expiry (default true; false for a client whose caller refreshes, like upstream's WithoutRefresh). */
  refresh?: boolean;
  /** Elements before the gRPC call, in order (mechanism preferences, labels). */
  additionalFunctionality?: NetworkServiceClient[];
}

class Client implements NetworkServiceClient {
  private readonly chain: NetworkServiceClient;

  constructor(opts: ClientOptions) {
    if (!opts.name) throw new Error('client: a name is required (it goes on the path segment)');
    if (!opts.connectTo) throw new Error('client: connectTo (the nsmgr URL) is required');
    this.chain = newNetworkServiceChain(
      updatepath.newClient(opts.name), // our own path segment, index 0
      begin.newClient(), // one event at a time per connection; refresh and heal re-enter here
      logscope.newClient({ name: opts.name }), // every log line below carries hop and connection id
      trace.newClient({ name: opts.name }), // the trace's first span, passed on as traceparent (after begin: refreshes and heals get theirs)
      updatetoken.newClient({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
      metadata.newServer(), // per-connection state for the elements below
      ...(opts.refresh === false ? [] : [refresh.newClient()]), // re-requests before any hop's segment expires
      clienturl.newClient(opts.connectTo), // the local nsmgr is the next hop
      ...(opts.heal ? [heal.newClient({ ...opts.heal, pool: opts.pool })] : []), // watches the path, repairs or reselects
      ...(opts.additionalFunctionality ?? []),
      connect.newServer(opts.pool), // the gRPC call
    );
  }

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    return this.chain.request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return this.chain.close(ctx, conn);
  }
}

export function newClient(opts: ClientOptions): NetworkServiceClient {
  return new Client(opts);
}
