// begin serialises all events of one connection (Request, Close, and the mid-chain events that
// refresh, timeout and heal fire) so they run one at a time, in order. It remembers the last
// request and the last connection the chain returned, so that:
//  - Close always carries the last good connection, whatever the caller sent (as upstream's begin):
//    a caller holding a stale connection (the nsc closing what its first Request returned, after a
//    heal moved it to another endpoint) or only its own path segment still closes the whole path as
//    it stands now; a Close whose path ends at the caller's segment is matched by that segment;
//  - elements after begin can re-enter the chain from here with `begin.fromContext(ctx)`.
// It is the second element of every chain, after updatepath (which fixes the connection id).
import { State } from '../../../api/gen/networkservice/connection.js';
import { type Context, withTimeout } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest } from '../../core/types.js';
import { invalidArgument } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import {
  cloneConnection,
  cloneRequest,
  type EventFactory,
  withEventFactory,
  withReselectClose,
} from './common.js';

const log = logger('begin');
const EVENT_TIMEOUT_MS = 15_000;

interface ConnectionState {
  /** Settles when the last event queued so far has finished; resolves to nothing (see serial). */
  tail: Promise<void>;
  /** The last request without its connection: replays put `lastConn` there (one copy, not two). */
  lastRequest?: NetworkServiceRequest;
  lastConn?: Connection;
  /** The chain after begin, captured from the first request so events can re-enter it. */
  following?: NetworkServiceElement;
  values?: Context['values'];
  closed: boolean;
  /** Requests from the caller that are still being set up (a Close must wait for them). */
  inFlight: number;
  factory: EventFactory;
}

export interface BeginOptions {
  /** Client side: how to change a request when reselecting (default: upstream's reselect). */
  reselect?: (req: NetworkServiceRequest) => void;
}

/** Rebuilds the path to the same endpoint: only the mechanism is negotiated again. */
export function reselectSameEndpoint(req: NetworkServiceRequest): void {
  if (!req.connection) return;
  req.connection.mechanism = undefined;
  req.connection.state = State.RESELECT_REQUESTED;
}

export function defaultReselect(req: NetworkServiceRequest): void {
  const conn = req.connection;
  if (!conn) return;
  conn.mechanism = undefined;
  conn.networkServiceEndpointName = '';
  conn.state = State.RESELECT_REQUESTED;
  // A new endpoint hands out its own addresses: drop those of the old one, keep what the client excludes.
  const ip = conn.context?.ipContext;
  if (ip) {
    conn.context!.ipContext = {
      ...ip,
      srcIpAddrs: [],
      dstIpAddrs: [],
      srcRoutes: [],
      dstRoutes: [],
      ipNeighbors: [],
      extraPrefixes: [],
    };
  }
}

/** The caller's segment (the one before ours) of a server-side connection, as an index key. */
function callerKey(conn: Connection | undefined): string | undefined {
  const path = conn?.path;
  if (!path || path.index < 1) return undefined;
  const caller = path.pathSegments[path.index - 1];
  return caller?.id ? `${caller.name}\u0000${caller.id}` : undefined;
}

function settled(): void {}

/** A copy of `req` without its connection: begin keeps the connection once, as lastConn. */
function requestWithoutConnection(req: NetworkServiceRequest): NetworkServiceRequest {
  return cloneRequest({ ...req, connection: undefined });
}

class Begin implements NetworkServiceElement {
  private readonly states = new Map<string, ConnectionState>();
  /** Caller's segment → our connection id, for a Close that carries only the caller's segment. */
  private readonly byCaller = new Map<string, string>();

  constructor(private readonly opts: BeginOptions) {}

  private state(id: string): ConnectionState {
    let s = this.states.get(id);
    if (!s) {
      const created: ConnectionState = {
        tail: Promise.resolve(),
        closed: false,
        inFlight: 0,
        factory: {
          request: (o) =>
            this.event(id, () =>
              this.replay(created, o?.reselect ?? false, o?.keepEndpoint ?? false, o?.timeoutMs, o?.signal),
            ),
          close: () => this.event(id, () => this.replayClose(created)),
        },
      };
      s = created;
      this.states.set(id, s);
    }
    return s;
  }

  /** Runs fn after every earlier event of this connection has finished. */
  private serial<T>(id: string, fn: (s: ConnectionState) => Promise<T>): Promise<T> {
    const s = this.state(id);
    const run = s.tail.then(
      () => fn(s),
      () => fn(s),
    );
    // Not `run.catch(...)`: that settles with run's value and would keep the last connection
    // returned alive for as long as the connection lives (a copy beside lastConn).
    s.tail = run.then(settled, settled);
    return run;
  }

  private event<T>(id: string, fn: () => Promise<T>): Promise<T | undefined> {
    if (!this.states.has(id)) return Promise.resolve(undefined);
    return this.serial(id, async (s) => (s.closed ? undefined : fn())).finally(() => this.forgetIfIdle(id));
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const id = req.connection?.id;
    if (!id) throw invalidArgument('request has no connection id (is updatepath before begin?)');
    // A caller that gives up closes with only its own segment, before it learnt our id: index the
    // request by that segment now, so the Close finds it, waits for it and undoes a late success.
    const key = callerKey(req.connection);
    const pending = this.state(id);
    pending.inFlight++;
    if (key !== undefined && !this.states.get(this.byCaller.get(key) ?? '')?.lastConn)
      this.byCaller.set(key, id);
    return this.serial(id, async (s) => {
      s.closed = false;
      const following = next.server(ctx);
      const conn = await following.request(withEventFactory(ctx, s.factory), req);
      s.following = following;
      s.values = ctx.values;
      s.lastRequest = requestWithoutConnection(req);
      this.remember(s, conn);
      return conn;
    }).finally(() => {
      pending.inFlight--;
      if (key !== undefined && this.byCaller.get(key) === id && !pending.lastConn && pending.inFlight === 0)
        this.byCaller.delete(key);
      this.forgetIfIdle(id);
    });
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const id = this.idToClose(conn);
    await this.serial(id, async (s) => {
      // The last good connection, path included: the caller's copy may be stale (see the top). Its
      // state says whether this Close comes before a reselect (replay), which xconnect answers early.
      const toClose = s.lastConn ? cloneConnection(s.lastConn) : conn;
      if (conn.state === State.RESELECT_REQUESTED) toClose.state = State.RESELECT_REQUESTED;
      s.closed = true;
      try {
        await next.server(ctx).close(withEventFactory(ctx, s.factory), toClose);
      } finally {
        this.remember(s, undefined);
        s.lastRequest = undefined;
        s.following = undefined;
      }
    }).finally(() => this.forgetIfIdle(id));
  }

  /**
   * The connection a Close is for: its own id when we hold it; otherwise, when its path ends at
   * the caller's segment (updatepath then made up a new id for us), ours that has that caller,
   * set up or still being set up.
   */
  private idToClose(conn: Connection): string {
    const own = this.states.get(conn.id);
    if (own?.lastConn || own?.inFlight) return conn.id;
    const key = callerKey(conn);
    const found = key === undefined ? undefined : this.states.get(this.byCaller.get(key) ?? '');
    return found && (found.lastConn || found.inFlight) ? this.byCaller.get(key!)! : conn.id;
  }

  /** Sets the last good connection, keeping the caller index in step. */
  private remember(s: ConnectionState, conn: Connection | undefined): void {
    const oldKey = callerKey(s.lastConn);
    const id = s.lastConn?.id ?? conn?.id;
    if (oldKey !== undefined && this.byCaller.get(oldKey) === id) this.byCaller.delete(oldKey);
    s.lastConn = conn ? cloneConnection(conn) : undefined;
    const key = callerKey(s.lastConn);
    if (key !== undefined && s.lastConn) this.byCaller.set(key, s.lastConn.id);
  }

  /** Drops the state of a connection that has nothing to remember and nothing queued. */
  private forgetIfIdle(id: string): void {
    const s = this.states.get(id);
    if (!s || s.lastConn || s.inFlight) return;
    const tail = s.tail;
    void tail.then(() => {
      const now = this.states.get(id);
      if (now && now.tail === tail && !now.lastConn && !now.inFlight) this.states.delete(id);
    });
  }

  private async replay(
    s: ConnectionState,
    reselect: boolean,
    keepEndpoint: boolean,
    timeoutMs?: number,
    signal?: AbortSignal,
  ): Promise<Connection | undefined> {
    if (!s.following || !s.lastRequest || !s.lastConn) return undefined;
    const { ctx, cancel } = this.eventContext(s, timeoutMs, signal);
    try {
      if (reselect) {
        const old = cloneConnection(s.lastConn);
        old.state = State.RESELECT_REQUESTED; // tells the hops (xconnect) that a Request follows
        await s.following
          .close(withReselectClose(withEventFactory(ctx, s.factory)), old)
          .catch((e: unknown) => {
            log.debug({ err: e, id: s.lastConn?.id }, 'close before reselect failed');
          });
      }
      const req = cloneRequest(s.lastRequest);
      req.connection = cloneConnection(s.lastConn);
      if (reselect && keepEndpoint) reselectSameEndpoint(req);
      else if (reselect) (this.opts.reselect ?? defaultReselect)(req);
      const conn = await s.following.request(withEventFactory(ctx, s.factory), req);
      s.lastRequest = requestWithoutConnection(req);
      this.remember(s, conn);
      return conn;
    } finally {
      cancel();
    }
  }

  private async replayClose(s: ConnectionState): Promise<void> {
    if (!s.following || !s.lastConn) return;
    const { ctx, cancel } = this.eventContext(s);
    const following = s.following;
    const conn = cloneConnection(s.lastConn);
    s.closed = true;
    this.remember(s, undefined);
    s.lastRequest = undefined;
    s.following = undefined;
    try {
      await following.close(withEventFactory(ctx, s.factory), conn);
    } finally {
      cancel();
      this.forgetIfIdle(conn.id);
    }
  }

  private eventContext(s: ConnectionState, timeoutMs = EVENT_TIMEOUT_MS, signal?: AbortSignal) {
    return withTimeout(
      { signal: signal ?? new AbortController().signal, values: s.values ?? new Map() },
      Math.min(timeoutMs, EVENT_TIMEOUT_MS),
    );
  }

  get size(): number {
    return this.states.size;
  }
}

export function newServer(opts: BeginOptions = {}): NetworkServiceElement & { readonly size: number } {
  return new Begin(opts);
}

/** The client side behaves the same; it is separate so client chains read like upstream's. */
export const newClient = newServer;
