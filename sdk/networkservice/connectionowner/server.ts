// connectionowner (every chain, right after updatepath, before begin) lets a caller act only on its
// own connections: a Request for a connection this hop already holds (a refresh, or any Request
// carrying an existing path) and a Close go through only when they come from the caller that set
// the connection up; MonitorConnections shows a caller only its own connections (visibleTo).
// Path ids are printed by nsmctl and travel in every Request: they are names, not credentials.
//
// It sits before begin because begin forgets a connection on any Close, refused below or not, and
// queues a hijacking Request behind the victim's events: the refusal must come before either. The
// events begin sends itself (refresh, expiry, heal) start after begin and are not checked.
//
//   caller ──Request/Close(path)──▶ updatepath ─▶ connectionowner ─▶ begin ─▶ …
//                                                 owner(id) == caller? else PERMISSION_DENIED
//
// Who "the caller" is depends on the link (common.ts): the SPIFFE ID proved by mTLS; on the nsmgr's
// unix socket the peer process's network namespace and uid (so it holds in insecure mode too); on
// the forwarder's and endpoints' unix sockets the socket itself. See README.md.
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import type { ConnectionMonitor, Visible } from '../monitor/monitor.js';
import {
  type Caller,
  type CallerOptions,
  callerOf,
  denied,
  isOperator,
  type OwnerKey,
  operatorNamespaces,
  type ProcessOwner,
  pathPassesThrough,
  realProcessOwner,
  type UnixOwnership,
} from './common.js';
import { ConnectionOwners } from './owners.js';

export interface ConnectionOwnerOptions {
  /** The hop's monitor: owners of connections it no longer holds are forgotten (owners.ts). */
  readonly monitor: ConnectionMonitor;
  /** How unix callers are told apart: 'process' (the nsmgr) or 'socket' (default). */
  readonly unix?: UnixOwnership;
  /** Namespace files whose root processes are operators, besides this daemon's and pid 1's. */
  readonly operatorNetns?: readonly string[];
  /** A process's namespace and uid (tests fake /proc). */
  readonly processOwner?: ProcessOwner;
}

export interface ConnectionOwnerServer extends NetworkServiceServer {
  /**
   * Which connections the caller of a MonitorConnections call may see: the ones it owns, the
   * ones whose path carries a token it signed, or all of them for an operator (root in this
   * daemon's or the host's network namespace) and in-process callers. Rejects with
   * PermissionDenied when the caller cannot be told.
   */
  visibleTo(ctx: Context): Promise<Visible>;
  /** Connections with a known owner (tests). */
  readonly size: number;
}

class ConnectionOwner implements ConnectionOwnerServer {
  private readonly owners: ConnectionOwners;
  private readonly callers: CallerOptions;
  private operators?: Promise<Set<string>>;
  private readonly operatorNetns: readonly string[];

  constructor(opts: ConnectionOwnerOptions) {
    this.owners = new ConnectionOwners((id) => opts.monitor.get(id) !== undefined);
    this.callers = { unix: opts.unix ?? 'socket', processOwner: opts.processOwner ?? realProcessOwner };
    this.operatorNetns = opts.operatorNetns ?? [];
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection;
    const what = `request connection "${conn?.id ?? ''}"`;
    const caller = conn ? await callerOf(ctx, this.callers, what) : undefined;
    if (!conn || !caller) return next.server(ctx).request(ctx, req);
    const owner = this.owners.ownerOf(conn.id);
    if (owner !== undefined && owner !== caller.key) throw this.notYours(what, caller);
    // Recorded before the chain runs, so the owner sees the connection's first UPDATE on its
    // MonitorConnections stream and a second caller racing for the same id is refused.
    if (owner === undefined) this.owners.record(conn, caller.key);
    try {
      const out = await next.server(ctx).request(ctx, req);
      this.owners.record(out, caller.key);
      return out;
    } catch (e) {
      if (owner === undefined) this.owners.forget(conn.id);
      throw e;
    }
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const what = `close connection "${conn.id}"`;
    const caller = await callerOf(ctx, this.callers, what);
    const id = caller ? this.owners.resolve(conn) : undefined;
    if (caller && id !== undefined && this.owners.ownerOf(id) !== caller.key)
      throw this.notYours(what, caller);
    try {
      await next.server(ctx).close(ctx, conn);
    } finally {
      if (id !== undefined) this.owners.forget(id);
    }
  }

  async visibleTo(ctx: Context): Promise<Visible> {
    const caller = await callerOf(ctx, this.callers, 'monitor connections');
    this.operators ??= operatorNamespaces(this.callers.processOwner, this.operatorNetns);
    if (isOperator(caller, await this.operators) || !caller) return () => true;
    const { key, spiffeId } = caller;
    return (conn) =>
      this.ownerOfView(conn) === key || (spiffeId !== undefined && pathPassesThrough(conn, spiffeId));
  }

  /**
   * The owner of a connection this hop holds, in our view (the monitor's events) or in the caller's
   * (what a Request answered: the timeout asks whether its previous hop still watches with that one,
   * whose id is the caller's and whose next segment is ours).
   */
  private ownerOfView(conn: Connection): OwnerKey | undefined {
    const ours = conn.path?.pathSegments[(conn.path?.index ?? 0) + 1]?.id;
    return this.owners.ownerOf(conn.id) ?? (ours === undefined ? undefined : this.owners.ownerOf(ours));
  }

  get size(): number {
    return this.owners.size;
  }

  private notYours(what: string, caller: Caller) {
    // PermissionDenied rather than NotFound: the id is known (it was printed somewhere); saying so
    // costs nothing and tells an honest caller with a stale path why its call failed.
    return denied(what, `it belongs to another caller, not to ${caller.key} (path ids are not credentials)`);
  }
}

export function newServer(opts: ConnectionOwnerOptions): ConnectionOwnerServer {
  if (!opts?.monitor) throw new Error('connectionowner: a monitor is required');
  return new ConnectionOwner(opts);
}
