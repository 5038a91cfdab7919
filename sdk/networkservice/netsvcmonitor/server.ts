// netsvcmonitor (nsmgr) moves connections whose endpoint no longer matches their service (upstream's
// netsvcmonitor, demo change-nse-dynamically). It remembers the service, endpoint and labels of
// every connection the nsmgr carries, watches both registries (list, then watch; one stream each,
// open while there are connections and for WATCH_LINGER_MS after the last one closed: pods that
// connect one after another made it list the whole registry for every connection) and, when a
// NetworkService is applied again or an endpoint
// registers with other labels, checks them all (common.ts mustMove). A connection that must move
// gets a RESELECT_REQUESTED event on this nsmgr's MonitorConnections stream: the client's heal
// selects another endpoint at once (heal/client.ts); through a CNF chain the relays pass the event
// on to the originating client. The nsmgr itself changes nothing: the client rebuilds its path
// through the usual reselect, so refresh, Close and heal stay in one place.
//
// It sits after requestlabels (the labels the matches see are complete) and before
// discoverforwarder; on the way back the response names the endpoint the forwarder chose.
import {
  NetworkService,
  type NetworkServiceEndpoint,
  NetworkServiceEndpoint as NseMsg,
} from '../../../api/gen/registry/registry.js';
import { type Clock, realClock, withClock } from '../../core/clock.js';
import { background, type Cancelable, type Context, withCancel } from '../../core/context.js';
import * as next from '../../core/next.js';
import type {
  Connection,
  NetworkServiceRequest,
  NetworkServiceServer,
  NseRegistry,
  NsRegistry,
} from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { type Backoff, type BackoffFactory, cappedDoubling } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import type { ConnectionMonitor } from '../monitor/index.js';
import { mustMove, type Tracked } from './common.js';

const log = logger('netsvcmonitor');
/** Registry events come in bursts (the list after a (re)connect, an apply of several services): check once per burst. */
export const EVALUATE_DELAY_MS = 20;
const INITIAL_WATCH_BACKOFF_MS = 100;
const MAX_WATCH_BACKOFF_MS = 2_000;
/** How long the watches stay open once no connection is left, for the next one. */
export const WATCH_LINGER_MS = 60_000;

export interface NetSvcMonitorOptions {
  /** The NetworkService registry to watch (the central registry's client). */
  ns: NsRegistry;
  /** The endpoint registry to watch. */
  nse: NseRegistry;
  /** Where the RESELECT_REQUESTED events go: the nsmgr's MonitorConnections. */
  monitor: ConnectionMonitor;
  clock?: Clock;
  /** Delays between reconnects of a broken watch (default: capped doubling 100 ms … 2 s). */
  backoff?: BackoffFactory;
}

/** The element (`server`, for the chain) and its registry watches, which `close()` ends. */
export interface NetSvcMonitor {
  readonly server: NetworkServiceServer;
  close(): Promise<void>;
}

class Monitor implements NetworkServiceServer {
  private readonly tracked = new Map<string, Tracked & { asked: boolean }>();
  private readonly services = new Map<string, NetworkService>();
  private readonly endpoints = new Map<string, NetworkServiceEndpoint>();
  private readonly clock: Clock;
  private readonly backoff: BackoffFactory;
  private watches?: Cancelable;
  private timer?: { clear(): void };
  /** Stops the watches WATCH_LINGER_MS after the last connection closed, unless another came. */
  private linger?: { clear(): void };
  private closed = false;

  constructor(private readonly opts: NetSvcMonitorOptions) {
    if (!opts?.ns || !opts.nse || !opts.monitor)
      throw new Error('netsvcmonitor: opts.ns, opts.nse and opts.monitor are required');
    this.clock = opts.clock ?? realClock;
    this.backoff =
      opts.backoff ?? cappedDoubling({ initialMs: INITIAL_WATCH_BACKOFF_MS, maxMs: MAX_WATCH_BACKOFF_MS });
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const labels = { ...(req.connection?.labels ?? {}) };
    const conn = await next.server(ctx).request(ctx, req);
    if (conn.networkServiceEndpointName && conn.networkService && !this.closed) {
      this.tracked.set(conn.id, {
        id: conn.id,
        networkService: conn.networkService,
        endpoint: conn.networkServiceEndpointName,
        labels,
        asked: false,
      });
      this.startWatches();
      // The choice may have been made from a view older than ours (a reselect racing the change).
      this.schedule();
    }
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    this.tracked.delete(conn.id);
    if (this.tracked.size === 0 && this.watches && !this.linger) {
      this.linger = this.clock.setTimeout(() => {
        this.linger = undefined;
        if (this.tracked.size === 0) this.stopWatches();
      }, WATCH_LINGER_MS);
    }
    await next.server(ctx).close(ctx, conn);
  }

  private startWatches(): void {
    this.linger?.clear();
    this.linger = undefined;
    if (this.watches) return;
    const life = withCancel(withClock(background(), this.clock));
    this.watches = life;
    this.watch(life, 'ns', this.backoff(), (ctx, sink) =>
      this.opts.ns.find(ctx, { networkService: NetworkService.fromPartial({}), watch: true }, (r) => {
        if (!r.networkService) return;
        sink(r.networkService.name, r.deleted ? undefined : r.networkService);
      }),
    );
    this.watch(life, 'nse', this.backoff(), (ctx, sink) =>
      this.opts.nse.find(ctx, { networkServiceEndpoint: NseMsg.fromPartial({}), watch: true }, (r) => {
        if (!r.networkServiceEndpoint) return;
        sink(r.networkServiceEndpoint.name, r.deleted ? undefined : r.networkServiceEndpoint);
      }),
    );
  }

  /** One list-then-watch stream; a broken one starts over (with an empty view of its kind) after a backoff. */
  private watch<T>(
    life: Cancelable,
    kind: 'ns' | 'nse',
    backoff: Backoff,
    find: (ctx: Context, sink: (name: string, item: T | undefined) => void) => Promise<void>,
  ): void {
    const view = (kind === 'ns' ? this.services : this.endpoints) as Map<string, T>;
    view.clear();
    find(life.ctx, (name, item) => {
      backoff.reset();
      if (item) view.set(name, item);
      else view.delete(name);
      this.schedule();
    }).then(
      () => this.rewatch(life, kind, backoff, find, 'ended'),
      (e: unknown) => this.rewatch(life, kind, backoff, find, getErrorMessage(e)),
    );
  }

  private rewatch<T>(
    life: Cancelable,
    kind: 'ns' | 'nse',
    backoff: Backoff,
    find: (ctx: Context, sink: (name: string, item: T | undefined) => void) => Promise<void>,
    why: string,
  ): void {
    if (life.ctx.signal.aborted) return;
    log.debug({ kind, why }, 'registry watch broke; watching again');
    const t = this.clock.setTimeout(() => {
      if (!life.ctx.signal.aborted) this.watch(life, kind, backoff, find);
    }, backoff.next());
    life.ctx.signal.addEventListener('abort', () => t.clear(), { once: true });
  }

  private stopWatches(): void {
    this.linger?.clear();
    this.linger = undefined;
    this.watches?.cancel(new Error('no connections to watch'));
    this.watches = undefined;
    this.timer?.clear();
    this.timer = undefined;
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      this.evaluate();
    }, EVALUATE_DELAY_MS);
  }

  private evaluate(): void {
    const now = this.clock.now();
    const nses = [...this.endpoints.values()];
    for (const t of this.tracked.values()) {
      if (t.asked || !mustMove(t, this.services.get(t.networkService), nses, now)) continue;
      // Once per Request: the reselect that follows brings a new record.
      t.asked = true;
      log.info(
        { id: t.id, service: t.networkService, endpoint: t.endpoint, labels: t.labels },
        'the endpoint no longer matches its service: asking the client to reselect',
      );
      this.opts.monitor.reselect(t.id);
    }
  }

  shutdown(): void {
    this.closed = true;
    this.tracked.clear();
    this.stopWatches();
  }
}

export function newNetSvcMonitor(opts: NetSvcMonitorOptions): NetSvcMonitor {
  const m = new Monitor(opts);
  return {
    server: m,
    close: async () => m.shutdown(),
  };
}
