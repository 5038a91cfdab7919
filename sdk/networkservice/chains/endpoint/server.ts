// The shape every NetworkService server in the mesh shares (upstream sdk chains/endpoint): nsmgr,
// the forwarder and the endpoints are this prefix plus their own elements. The prefix gives each
// connection its path segment and id, serialises its events, signs the segment, keeps its
// per-connection state, expires it when the client stops refreshing and shows it on
// MonitorConnections; what follows (`additionalFunctionality`) is what makes the daemon what it is.
import type * as grpc from '@grpc/grpc-js';
import type { Context } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../../core/types.js';
import { serveInProcess } from '../../../grpc/in-process.js';
import { addNetworkServiceServices } from '../../../grpc/networkservice-server.js';
import * as authorize from '../../authorize/index.js';
import * as begin from '../../begin/index.js';
import * as connectionowner from '../../connectionowner/index.js';
import * as logscope from '../../logscope/index.js';
import * as metadata from '../../metadata/index.js';
import * as metrics from '../../metrics/index.js';
import * as monitor from '../../monitor/index.js';
import * as timeout from '../../timeout/index.js';
import * as trace from '../../trace/index.js';
import * as updatepath from '../../updatepath/index.js';
import * as updatetoken from '../../updatetoken/index.js';

export interface EndpointOptions {
  /** Name on this hop's path segment. */
  name: string;
  /** Lifetime of the token and expiry this hop puts on its segment. */
  maxTokenLifetimeMs?: number;
  /** The monitor to serve (default: a new one); pass it when an element below needs it too (the relay). */
  monitor?: monitor.ConnectionMonitor;
  /**
   * How connectionowner tells unix callers apart: 'process' (network namespace and uid: the nsmgr,
   * whose socket every pod may reach) or 'socket' (default: one owner per socket).
   */
  unixOwnership?: connectionowner.UnixOwnership;
  /** Namespace files whose root processes see every connection (connectionowner). */
  operatorNetns?: string[];
  /** A process's namespace and uid for connectionowner (tests fake /proc). */
  processOwner?: connectionowner.ProcessOwner;
  /** The daemon's own elements, in order, after the common prefix. */
  additionalFunctionality?: NetworkServiceServer[];
}

export interface Endpoint extends NetworkServiceServer {
  /** What MonitorConnections serves: the connections this hop holds. */
  readonly monitor: monitor.ConnectionMonitor;
  /** Which connections MonitorConnections shows the caller of `ctx` (its own; see connectionowner). */
  visibleTo(ctx: Context): Promise<monitor.Visible>;
  /** Serves NetworkService and MonitorConnection on `server`; calls derive their context from `ctx`. */
  register(server: grpc.Server, ctx: Context): void;
  /**
   * Serves the same to this process's clients of `url` without gRPC (sdk/grpc/in-process.ts);
   * returns what stops it.
   */
  serveInProcess(url: string, ctx: Context): () => void;
}

class EndpointServer implements Endpoint {
  readonly monitor: monitor.ConnectionMonitor;
  private readonly chain: NetworkServiceServer;
  private readonly owners: connectionowner.ConnectionOwnerServer;

  constructor(opts: EndpointOptions) {
    this.monitor = opts.monitor ?? new monitor.ConnectionMonitor();
    if (!opts.name) throw new Error('endpoint: a name is required (it goes on the path segment)');
    this.owners = connectionowner.newServer({
      monitor: this.monitor,
      unix: opts.unixOwnership,
      processOwner: opts.processOwner,
      operatorNetns: opts.operatorNetns,
    });
    this.chain = newNetworkServiceChain(
      updatepath.newServer(opts.name), // this hop's path segment and connection id
      this.owners, // Close and re-Request only from the caller that set the connection up (before begin: it forgets on any Close)
      begin.newServer(), // one event at a time per connection; mid-chain events (expiry, heal) re-enter here
      logscope.newServer({ name: opts.name }), // every log line below carries hop and connection id
      trace.newServer({ name: opts.name }), // this hop's span, child of the caller's traceparent (after begin: expiry Closes get theirs)
      updatetoken.newServer({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
      authorize.newServer(), // over mTLS: the caller signed its segment, no token expired, the chain holds
      metadata.newServer(), // per-connection state for every element below
      metrics.newServer({ name: opts.name }), // Prometheus counts and latency (needs metadata above: setup or refresh); sees the Closes timeout sends
      timeout.newServer({ previousHopWatching: (id) => this.watched(id) }), // closes connections whose client stopped refreshing (needs begin and metadata above); holds them while the previous hop, hung, still watches
      monitor.newServer(this.monitor), // MonitorConnections sees what this hop holds, as the elements below left it
      ...(opts.additionalFunctionality ?? []),
    );
  }

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    return this.chain.request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return this.chain.close(ctx, conn);
  }

  /** Whether the previous hop watches the connection, as the monitor holds it (timeout asks by id). */
  private watched(id: string): boolean {
    const conn = this.monitor.get(id);
    return conn !== undefined && this.monitor.watched(conn);
  }

  visibleTo(ctx: Context): Promise<monitor.Visible> {
    return this.owners.visibleTo(ctx);
  }

  register(server: grpc.Server, ctx: Context): void {
    addNetworkServiceServices(server, this.chain, this.monitor, ctx, (c) => this.owners.visibleTo(c));
  }

  serveInProcess(url: string, ctx: Context): () => void {
    return serveInProcess(url, {
      chain: this.chain,
      monitor: this.monitor,
      visibleTo: (c) => this.owners.visibleTo(c),
      base: ctx,
    });
  }
}

export function newServer(opts: EndpointOptions): Endpoint {
  return new EndpointServer(opts);
}
