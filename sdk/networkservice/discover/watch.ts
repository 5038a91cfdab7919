// A Finder that answers from a local view of both registries, kept by list-then-watch, so that a
// connection's setup asks no registry: every forwarder hop of a chain used to Find the service and
// its endpoints (two round trips through the nsmgr to the registry) whenever the TTL cache had
// lapsed, which at a second per setup under load was every time.
//  - Per registry: a watch stream (its first answers are the current entries, then every change)
//    and one list; the view is usable ("synced") once the list returned. Events fold into the view
//    in stream order, so it converges on the registry's state.
//  - Until synced, while a broken stream is being re-established (capped doubling backoff, a fresh
//    view), for a `fresh` question (a reselect) and when the view has no answer (an entry that
//    registered a moment ago), the question goes to the fallback (the TTL-cached Finder).
//  - Nothing starts before the first question; close() stops the streams.
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { type Clock, realClock, withClock } from '../../core/clock.js';
import { background, type Cancelable, type Context, withCancel } from '../../core/context.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { type Backoff, cappedDoubling } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import { matchNseTemplate } from '../../tools/matchutils/index.js';
import { type Finder, type FindOptions, newFinder } from './common.js';

const log = logger('discover');
const INITIAL_WATCH_BACKOFF_MS = 100;
const MAX_WATCH_BACKOFF_MS = 2_000;

export interface WatchingFinderOptions {
  /** Where questions go while the view cannot answer (default: newFinder over the same registries). */
  fallback?: Finder;
  clock?: Clock;
}

export interface WatchingFinder extends Finder {
  /** Stops the watch streams; later questions go to the fallback. */
  close(): Promise<void>;
}

interface View<T> {
  items: Map<string, T>;
  synced: boolean;
}

type Watch<T> = (
  ctx: Context,
  watch: boolean,
  sink: (name: string, item: T | undefined) => void,
) => Promise<void>;

class Watching implements WatchingFinder {
  private readonly services: View<NetworkService> = { items: new Map(), synced: false };
  private readonly endpointsView: View<NetworkServiceEndpoint> = { items: new Map(), synced: false };
  private readonly fallback: Finder;
  private readonly clock: Clock;
  private life?: Cancelable;
  private closed = false;

  constructor(
    private readonly ns: NsRegistry,
    private readonly nse: NseRegistry,
    opts: WatchingFinderOptions,
  ) {
    this.fallback = opts.fallback ?? newFinder(ns, nse);
    this.clock = opts.clock ?? realClock;
  }

  async networkService(ctx: Context, name: string, opts?: FindOptions): Promise<NetworkService | undefined> {
    this.start();
    const hit = this.services.synced && !opts?.fresh ? this.services.items.get(name) : undefined;
    return hit ? NetworkService.fromPartial(hit) : this.fallback.networkService(ctx, name, opts);
  }

  async endpoints(
    ctx: Context,
    template: Partial<NetworkServiceEndpoint>,
    opts?: FindOptions,
  ): Promise<NetworkServiceEndpoint[]> {
    this.start();
    if (this.endpointsView.synced && !opts?.fresh) {
      const now = this.clock.now();
      const found = [...this.endpointsView.items.values()].filter(
        (e) => matchNseTemplate(template, e) && (!e.expirationTime || e.expirationTime.getTime() > now),
      );
      if (found.length > 0) return found.map((e) => NetworkServiceEndpoint.fromPartial(e));
    }
    return this.fallback.endpoints(ctx, template, opts);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.life?.cancel(new Error('finder closed'));
    this.life = undefined;
    for (const view of [this.services, this.endpointsView]) {
      view.synced = false;
      view.items.clear();
    }
  }

  private start(): void {
    if (this.life || this.closed) return;
    const life = withCancel(withClock(background(), this.clock));
    this.life = life;
    const backoff = () =>
      cappedDoubling({ initialMs: INITIAL_WATCH_BACKOFF_MS, maxMs: MAX_WATCH_BACKOFF_MS })();
    this.keep(life, 'ns', this.services, backoff(), (ctx, watch, sink) =>
      this.ns.find(ctx, { networkService: NetworkService.fromPartial({}), watch }, (r) => {
        if (r.networkService) sink(r.networkService.name, r.deleted ? undefined : r.networkService);
      }),
    );
    this.keep(life, 'nse', this.endpointsView, backoff(), (ctx, watch, sink) =>
      this.nse.find(ctx, { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial({}), watch }, (r) => {
        const e = r.networkServiceEndpoint;
        if (e) sink(e.name, r.deleted ? undefined : e);
      }),
    );
  }

  /** Keeps one registry's view: watch, list, and start over with an empty view when the watch ends. */
  private keep<T>(life: Cancelable, kind: string, view: View<T>, backoff: Backoff, find: Watch<T>): void {
    view.items.clear();
    view.synced = false;
    const stream = withCancel(life.ctx);
    // Names the watch has spoken about: the list (maybe older than the watch's events) must not undo them.
    const touched = new Set<string>();
    let ended = false;
    const again = (why: string) => {
      if (ended) return;
      ended = true;
      stream.cancel(new Error(why));
      view.synced = false;
      view.items.clear();
      if (life.ctx.signal.aborted) return;
      log.debug({ kind, why }, 'registry watch ended; watching again');
      const t = this.clock.setTimeout(() => {
        if (!life.ctx.signal.aborted) this.keep(life, kind, view, backoff, find);
      }, backoff.next());
      life.ctx.signal.addEventListener('abort', () => t.clear(), { once: true });
    };
    find(stream.ctx, true, (name, item) => {
      if (ended) return;
      backoff.reset();
      touched.add(name);
      if (item) view.items.set(name, item);
      else view.items.delete(name);
    }).then(
      () => again('ended'),
      (e: unknown) => again(getErrorMessage(e)),
    );
    const listed: [string, T][] = [];
    find(stream.ctx, false, (name, item) => {
      if (item) listed.push([name, item]);
    }).then(
      () => {
        if (ended) return;
        for (const [name, item] of listed) if (!touched.has(name)) view.items.set(name, item);
        view.synced = true;
      },
      (e: unknown) => again(`list failed: ${getErrorMessage(e)}`),
    );
  }
}

export function newWatchingFinder(
  ns: NsRegistry,
  nse: NseRegistry,
  opts: WatchingFinderOptions = {},
): WatchingFinder {
  return new Watching(ns, nse, opts);
}
