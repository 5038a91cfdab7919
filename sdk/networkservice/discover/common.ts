// Finding network services and endpoints through a registry chain (local nsmgr or the registry).
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { clock } from '../../core/clock.js';
import { background, type Context, withTimeout } from '../../core/context.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';

export interface FindOptions {
  /** Ask the registry even when a cached answer is fresh (a reselect: the cached choice went wrong). */
  fresh?: boolean;
}

export interface Finder {
  networkService(ctx: Context, name: string, opts?: FindOptions): Promise<NetworkService | undefined>;
  endpoints(
    ctx: Context,
    template: Partial<NetworkServiceEndpoint>,
    opts?: FindOptions,
  ): Promise<NetworkServiceEndpoint[]>;
}

export interface FinderOptions {
  /**
   * How long a non-empty answer is reused (ms). Every setup asks the same few questions, and
   * endpoints come and go far more slowly than connections are made; a stale candidate only
   * costs a failover in roundrobin. 0 turns the cache off.
   */
  cacheTtlMs?: number;
  /**
   * For how long after its TTL an answer is still given while the registry is asked again in the
   * background (ms): the request that finds it old does not wait for the registry (two hops away
   * from the forwarder: one sequential setup in ~16 did, the slowest ones). 0: it waits.
   */
  staleMs?: number;
}

export const DEFAULT_FINDER_CACHE_TTL_MS = 1_000;
export const DEFAULT_FINDER_STALE_MS = 30_000;
/** Budget of a background refresh (it has no caller whose deadline it could take). */
const REFRESH_TIMEOUT_MS = 15_000;

interface Entry {
  /** When the load of this answer started. */
  readonly at: number;
  readonly value: Promise<unknown>;
  /** The load succeeded with an answer worth keeping. */
  ok: boolean;
  /** A background load of a newer answer is under way. */
  refreshing: boolean;
}

export function newFinder(ns: NsRegistry, nse: NseRegistry, opts: FinderOptions = {}): Finder {
  const ttl = opts.cacheTtlMs ?? DEFAULT_FINDER_CACHE_TTL_MS;
  const staleMs = opts.staleMs ?? DEFAULT_FINDER_STALE_MS;
  const cache = new Map<string, Entry>();
  const store = <T>(key: string, at: number, value: Promise<T>, keep: (v: T) => boolean): Promise<T> => {
    const entry: Entry = { at, value, ok: false, refreshing: false };
    cache.set(key, entry);
    value.then(
      (v) => {
        if (cache.get(key) !== entry) return;
        if (keep(v)) entry.ok = true;
        else cache.delete(key);
      },
      () => cache.get(key) === entry && cache.delete(key),
    );
    if (cache.size > 1024) cache.delete(cache.keys().next().value!);
    return value;
  };
  /** Asks again for an answer still being given; it replaces that one only once it is in. */
  const refresh = <T>(
    ctx: Context,
    key: string,
    old: Entry,
    load: (ctx: Context) => Promise<T>,
    keep: (v: T) => boolean,
  ): void => {
    old.refreshing = true;
    const at = clock(ctx).now();
    const { ctx: bg, cancel } = withTimeout(
      { values: ctx.values, signal: background().signal },
      REFRESH_TIMEOUT_MS,
    );
    load(bg)
      .then(
        (v) => {
          if (cache.get(key) !== old) return; // a fresh answer came meanwhile
          if (keep(v)) cache.set(key, { at, value: Promise.resolve(v), ok: true, refreshing: false });
          else cache.delete(key);
        },
        // The next caller asks the registry itself, and sees why it fails.
        () => cache.get(key) === old && cache.delete(key),
      )
      .finally(cancel);
  };
  const cached = <T>(
    ctx: Context,
    key: string,
    load: (ctx: Context) => Promise<T>,
    keep: (v: T) => boolean,
    fresh = false,
  ): Promise<T> => {
    if (ttl <= 0) return load(ctx);
    const now = clock(ctx).now();
    const hit = cache.get(key);
    if (hit && !fresh) {
      const age = now - hit.at;
      if (age < ttl) return hit.value as Promise<T>;
      if (hit.ok && age < ttl + staleMs) {
        if (!hit.refreshing) refresh(ctx, key, hit, load, keep);
        return hit.value as Promise<T>;
      }
    }
    return store(key, now, load(ctx), keep);
  };
  const raw = newRawFinder(ns, nse);
  return {
    networkService: (ctx, name, o) =>
      cached(
        ctx,
        `ns/${name}`,
        (c) => raw.networkService(c, name),
        (v) => v !== undefined,
        o?.fresh,
      ),
    endpoints: (ctx, template, o) =>
      cached(
        ctx,
        `nse/${JSON.stringify(template)}`,
        (c) => raw.endpoints(c, template),
        (v) => v.length > 0,
        o?.fresh,
      ),
  };
}

function newRawFinder(ns: NsRegistry, nse: NseRegistry): Finder {
  return {
    async networkService(ctx, name) {
      const found: NetworkService[] = [];
      await ns.find(ctx, { networkService: NetworkService.fromPartial({ name }), watch: false }, (r) => {
        if (r.networkService && !r.deleted && r.networkService.name === name) found.push(r.networkService);
      });
      return found[0];
    },
    async endpoints(ctx, template) {
      const found: NetworkServiceEndpoint[] = [];
      await nse.find(
        ctx,
        { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial(template), watch: false },
        (r) => {
          if (r.networkServiceEndpoint && !r.deleted) found.push(r.networkServiceEndpoint);
        },
      );
      const now = clock(ctx).now();
      return found.filter((e) => !e.expirationTime || e.expirationTime.getTime() > now);
    },
  };
}
