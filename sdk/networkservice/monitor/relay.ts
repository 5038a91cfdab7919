// The relay watches the next hop's MonitorConnections stream, one stream per next-hop URL shared
// by all connections through it, and turns trouble downstream into DOWN events here, so that the
// originating client learns within one hop-by-hop relay that something on its path died:
//  - the stream breaks (the next hop died or restarted): every connection through it is DOWN;
//  - after a reconnect, a connection missing from the initial state is DOWN (its state was lost);
//  - the next hop reports a connection DOWN or deleted: ours is DOWN;
//  - the next hop asks for a reselect (RESELECT_REQUESTED: it no longer matches its service): ours
//    asks too, so the request reaches the originating client through a CNF chain.
// Where the next hop is an endpoint (the forwarder's relay), a broken stream whose listener is gone
// (`endpointGone`: a killed process's unix socket refuses connections) asks for a reselect first:
// the endpoint is dead, so repairing the path to it can only fail, and the client should select
// another at once (heal/client.ts), when another endpoint serves the service (`canReselect`).
// DOWN follows for clients that do not know RESELECT_REQUESTED.
// It sits right before connect, where the next hop's URL is known. Reconnects wait a capped
// doubling backoff on the clock of the request that started the watch. A stream whose last
// connection closed stays open for STREAM_LINGER_MS: pods that connect one after another would
// otherwise open and cancel a stream per connection on every hop, each time with the next hop's
// INITIAL_STATE_TRANSFER (with netsvcmonitor's registry watches, which linger the same way, about a
// fifth of the CPU that a sequential local setup and close cost the daemons).
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { type Clock, clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import type { ClientPool, MonitorStream } from '../../grpc/client-pool.js';
import { type Backoff, type BackoffFactory, cappedDoubling } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import { clientURL } from '../clienturl/index.js';
import type { ConnectionMonitor } from './monitor.js';

const log = logger('monitor-relay');
const INITIAL_RECONNECT_BACKOFF_MS = 100;
const MAX_RECONNECT_BACKOFF_MS = 2_000;
/** How long a stream with no connection left stays open for the next one through the same hop. */
export const STREAM_LINGER_MS = 60_000;

export interface RelayOptions {
  /** Delays between reconnects of a broken stream (default: capped doubling 100 ms … 2 s). */
  backoff?: BackoffFactory;
  /**
   * Only where every next hop is an endpoint: whether the endpoint at `url` is gone for good (see
   * gone.ts unixListenerGone). Absent: a broken stream is only DOWN.
   */
  endpointGone?: (url: string) => Promise<boolean>;
  /**
   * With endpointGone: whether another endpoint could take the connection. When none can, a
   * reselect would only close the connection on every hop (and `nsmctl diagnose` would find it
   * nowhere): it stays DOWN and the client repairs, as for a hung endpoint. Absent: always.
   */
  canReselect?: (conn: Connection, url: string) => Promise<boolean>;
  /** Told of each of our connections whose next hop asked for a reselect (the nsmgr: unregisterdead). */
  onReselectRequested?: (conn: Connection) => void;
}

type GoneChecks = Pick<RelayOptions, 'endpointGone' | 'canReselect' | 'onReselectRequested'>;

class Watcher {
  /** downstream connection id → our connection id */
  private readonly tracked = new Map<string, string>();
  private stream?: MonitorStream;
  private retry?: { clear(): void };
  /** Closes the stream STREAM_LINGER_MS after the last connection left, unless another came. */
  private linger?: { clear(): void };
  private connectedOnce = false;
  private disposed = false;
  /** Our connections already asked to reselect since they were (re)tracked: reconnect failures ask once. */
  private readonly reselected = new Set<string>();

  constructor(
    private readonly url: string,
    private readonly pool: Pick<ClientPool, 'monitor'>,
    private readonly monitor: ConnectionMonitor,
    private readonly clock: Clock,
    private readonly backoff: Backoff,
    private readonly gone: GoneChecks = {},
  ) {}

  track(downstreamId: string, ourId: string): void {
    this.disposed = false;
    this.linger?.clear();
    this.linger = undefined;
    this.reselected.delete(ourId);
    this.tracked.set(downstreamId, ourId);
    if (!this.stream && !this.retry) this.open();
  }

  untrack(ourId: string): void {
    for (const [d, o] of this.tracked) if (o === ourId) this.tracked.delete(d);
    this.reselected.delete(ourId);
    if (this.tracked.size > 0 || this.linger || this.disposed) return;
    this.linger = this.clock.setTimeout(() => {
      this.linger = undefined;
      if (this.tracked.size === 0) this.dispose();
    }, STREAM_LINGER_MS);
  }

  private open(): void {
    this.retry = undefined;
    let initial = true;
    this.stream = this.pool.monitor(
      this.url,
      { pathSegments: [], networkServices: [] },
      (ev: ConnectionEvent) => {
        this.backoff.reset();
        // What one event asks for goes on in one event per subscriber (ConnectionMonitor.downMany).
        const down = new Map<string, string>(); // our id → why
        const reselect: string[] = [];
        if (ev.type === ConnectionEventType.INITIAL_STATE_TRANSFER && initial) {
          initial = false;
          if (this.connectedOnce) {
            for (const [d, o] of this.tracked) if (!ev.connections[d]) down.set(o, 'lost by the next hop');
          }
          this.connectedOnce = true;
        }
        for (const [id, c] of Object.entries(ev.connections)) {
          const ours = this.tracked.get(id);
          if (!ours) continue;
          if (ev.type === ConnectionEventType.DELETE) down.set(ours, 'deleted by the next hop');
          else if (c.state === State.DOWN) down.set(ours, 'down at the next hop');
          else if (c.state === State.RESELECT_REQUESTED) reselect.push(ours);
        }
        this.downAll(down);
        if (reselect.length === 0) return;
        for (const ours of reselect) log.info({ id: ours }, 'reselect requested by the next hop');
        this.monitor.reselectMany(reselect);
        const notify = this.gone.onReselectRequested;
        if (!notify) return;
        for (const ours of reselect) {
          const conn = this.monitor.get(ours);
          if (conn) notify(conn);
        }
      },
      () => {
        this.stream = undefined;
        if (this.gone.endpointGone) void this.broken(this.gone.endpointGone);
        else this.lost();
      },
    );
  }

  private lost(): void {
    if (this.disposed) return;
    const why = `lost the monitor stream to ${this.url}`;
    this.downAll(new Map([...this.tracked.values()].map((o) => [o, why])));
    if (this.tracked.size > 0 && !this.retry && !this.stream) {
      this.retry = this.clock.setTimeout(() => this.open(), this.backoff.next());
    }
  }

  private async broken(endpointGone: (url: string) => Promise<boolean>): Promise<void> {
    // One registry question per service, all at once: an endpoint that held 50 connections used
    // to be asked about 50 times in a row, and the last client heard of the death ~1 s late.
    const answers = new Map<string, Promise<boolean>>();
    const canReselect = this.gone.canReselect;
    const ask = (conn: Connection): Promise<boolean> => {
      if (!canReselect) return Promise.resolve(true);
      const key = `${conn.networkService}\0${conn.networkServiceEndpointName}`;
      let answer = answers.get(key);
      if (!answer) {
        // Unknown (the registry did not answer) counts as no: the connection stays for repair.
        answer = canReselect(conn, this.url).catch(() => false);
        answers.set(key, answer);
      }
      return answer;
    };
    // The registry is asked while the probe runs (both are round trips the clients wait for); a
    // live endpoint's broken stream, which is rare, costs one question per service for nothing.
    for (const o of this.tracked.values()) {
      const conn = this.reselected.has(o) ? undefined : this.monitor.get(o);
      if (conn) void ask(conn);
    }
    const gone = await endpointGone(this.url).catch(() => false);
    if (gone && !this.disposed) {
      const candidates = await Promise.all(
        [...this.tracked.values()].map(async (o) => {
          if (this.reselected.has(o)) return undefined;
          const conn = this.monitor.get(o);
          return conn && !(await ask(conn)) ? undefined : o;
        }),
      );
      const asks = this.disposed
        ? []
        : candidates.filter((o): o is string => o !== undefined && !this.reselected.has(o));
      for (const o of asks) {
        this.reselected.add(o);
        log.info({ id: o, endpoint: this.url }, 'the endpoint is gone: asking for a reselect');
      }
      this.monitor.reselectMany(asks);
    }
    this.lost();
  }

  /** Marks our connections DOWN (our id → why), in one event per subscriber. */
  private downAll(why: Map<string, string>): void {
    if (why.size === 0) return;
    for (const id of this.monitor.downMany(why.keys())) log.info({ id, why: why.get(id) }, 'connection down');
  }

  dispose(): void {
    this.disposed = true;
    this.linger?.clear();
    this.linger = undefined;
    void this.stream?.close();
    this.stream = undefined;
    this.retry?.clear();
    this.retry = undefined;
  }
}

class RelayServer implements NetworkServiceServer {
  private readonly watchers = new Map<string, Watcher>();
  /** our connection id → next-hop URL */
  private readonly via = new Map<string, string>();

  private readonly backoff: BackoffFactory;
  private readonly gone: GoneChecks;

  constructor(
    private readonly monitor: ConnectionMonitor,
    private readonly pool: Pick<ClientPool, 'monitor'>,
    opts: RelayOptions,
  ) {
    this.gone = {
      endpointGone: opts.endpointGone,
      canReselect: opts.canReselect,
      onReselectRequested: opts.onReselectRequested,
    };
    this.backoff =
      opts.backoff ??
      cappedDoubling({ initialMs: INITIAL_RECONNECT_BACKOFF_MS, maxMs: MAX_RECONNECT_BACKOFF_MS });
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.server(ctx).request(ctx, req);
    const url = clientURL(ctx);
    const index = conn.path?.index ?? 0;
    const downstreamId = conn.path?.pathSegments[index + 1]?.id;
    if (url && downstreamId) {
      const previous = this.via.get(conn.id);
      if (previous) this.watchers.get(previous)?.untrack(conn.id);
      let w = this.watchers.get(url);
      if (!w) {
        w = new Watcher(url, this.pool, this.monitor, clock(ctx), this.backoff(), this.gone);
        this.watchers.set(url, w);
      }
      w.track(downstreamId, conn.id);
      this.via.set(conn.id, url);
    }
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const url = this.via.get(conn.id);
    if (url) {
      this.via.delete(conn.id);
      this.watchers.get(url)?.untrack(conn.id);
    }
    await next.server(ctx).close(ctx, conn);
  }

  stopAll(): void {
    for (const w of this.watchers.values()) w.dispose();
    this.watchers.clear();
  }
}

/** The relay element (`server`, for the chain) and its monitor streams, which `close()` ends. */
export interface Relay {
  readonly server: NetworkServiceServer;
  close(): Promise<void>;
}

export function newRelay(
  monitor: ConnectionMonitor,
  pool: Pick<ClientPool, 'monitor'>,
  opts: RelayOptions = {},
): Relay {
  const server = new RelayServer(monitor, pool, opts);
  return {
    server,
    close: async () => server.stopAll(),
  };
}
