// Finding network services and endpoints through a registry chain (local nsmgr or the registry).
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
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
}

export const DEFAULT_FINDER_CACHE_TTL_MS = 1_000;

export function newFinder(ns: NsRegistry, nse: NseRegistry, opts: FinderOptions = {}): Finder {
  const ttl = opts.cacheTtlMs ?? DEFAULT_FINDER_CACHE_TTL_MS;
  const cache = new Map<string, { at: number; value: Promise<unknown> }>();
  const cached = <T>(
    ctx: Context,
    key: string,
    load: () => Promise<T>,
    keep: (v: T) => boolean,
    fresh = false,
  ): Promise<T> => {
    if (ttl <= 0) return load();
    const now = clock(ctx).now();
    const hit = cache.get(key);
    if (hit && now - hit.at < ttl && !fresh) return hit.value as Promise<T>;
    const value = load();
    cache.set(key, { at: now, value });
    value.then(
      (v) => !keep(v) && cache.delete(key),
      () => cache.delete(key),
    );
    if (cache.size > 1024) cache.delete(cache.keys().next().value!);
    return value;
  };
  const raw = newRawFinder(ns, nse);
  return {
    networkService: (ctx, name, o) =>
      cached(
        ctx,
        `ns/${name}`,
        () => raw.networkService(ctx, name),
        (v) => v !== undefined,
        o?.fresh,
      ),
    endpoints: (ctx, template, o) =>
      cached(
        ctx,
        `nse/${JSON.stringify(template)}`,
        () => raw.endpoints(ctx, template),
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
