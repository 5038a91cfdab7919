// expire gives every registered endpoint a lease. On Register it sets `expirationTime` to the earlier
// of the caller's requested time (when that is in the future) and now + the expire period, sets
// `initialRegistrationTime` on the first registration of a name, and returns both to the caller; a
// Register before the lease runs out (a refresh) renews it. When a lease runs out, expire unregisters
// the entry through `begin.fromContext(ctx)`, i.e. from the chain's start, so the store and its
// watchers see an ordinary Unregister (`deleted: true`). It sits after begin (and after any element
// that must see expiry as an Unregister, such as owner) and before the store.

import type {
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import { type Clock, clock } from '../../core/clock.js';
import { background, type Context, value, withTimeout, withValue } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NseRegistry } from '../../core/types.js';
import { failedPrecondition, getErrorMessage } from '../../errors/index.js';
import { leaseTimer } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import * as begin from '../begin/index.js';

const log = logger('expire');

/** Upstream nsmgr and registry default lease. */
export const DEFAULT_EXPIRE_PERIOD_MS = 60_000;
/** Longest single timer; longer leases re-arm (setTimeout overflows past 2^31-1 ms). */
const MAX_TIMER_MS = 2 ** 31 - 1;
/** Pause before trying again when unregistering an expired entry failed. */
const EXPIRY_RETRY_MS = 1_000;

export interface ExpireOptions {
  /** Lease granted on each Register (default 1 minute). */
  expirePeriodMs?: number;
}

export interface ExpireServer extends NseRegistry {
  /** Cancels every lease timer; entries stay where they are. Register after close throws. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

interface Lease {
  /** Identifies this lease; a refresh replaces it, so a late expiry of the old one is ignored. */
  readonly id: number;
  readonly expiresAt: number;
  readonly initial: Date;
  readonly item: NetworkServiceEndpoint;
  timer: { clear(): void };
}

class Expire implements ExpireServer {
  private readonly periodMs: number;
  private readonly leases = new Map<string, Lease>();
  /** Marks an Unregister that this element started for an expired lease (value: lease id). */
  private readonly expiryKey = Symbol('expire-event');
  private lastId = 0;
  private closed = false;

  constructor(opts: ExpireOptions) {
    this.periodMs = opts.expirePeriodMs ?? DEFAULT_EXPIRE_PERIOD_MS;
    if (!(this.periodMs > 0))
      throw new RangeError(`expire: expirePeriodMs must be positive, got ${this.periodMs}`);
  }

  async register(ctx: Context, nse: NetworkServiceEndpoint): Promise<NetworkServiceEndpoint> {
    if (this.closed)
      throw failedPrecondition('failed to register network service endpoint: expire is closed');
    const c = clock(ctx);
    const now = c.now();
    let expiresAt = now + this.periodMs;
    const requested = nse.expirationTime?.getTime();
    if (requested !== undefined && requested > now && requested < expiresAt) expiresAt = requested;
    const prev = this.leases.get(nse.name);
    const given = nse.initialRegistrationTime;
    const initial = prev?.initial ?? (given && given.getTime() > 0 ? given : new Date(now));

    const resp = await next
      .registry<NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .register(ctx, { ...nse, expirationTime: new Date(expiresAt), initialRegistrationTime: initial });

    // The next hop may shorten the lease (a remote registry with a shorter period); never lengthen it.
    const got = resp.expirationTime?.getTime();
    if (got !== undefined && got < expiresAt) expiresAt = got;
    resp.expirationTime = new Date(expiresAt);
    if (this.closed) return resp;

    this.leases.get(nse.name)?.timer.clear();
    const lease: Lease = {
      id: ++this.lastId,
      expiresAt,
      initial: resp.initialRegistrationTime ?? initial,
      item: structuredClone(resp),
      timer: { clear() {} },
    };
    this.leases.set(nse.name, lease);
    this.arm(ctx, c, lease);
    return resp;
  }

  private arm(ctx: Context, c: Clock, lease: Lease): void {
    const at = Math.min(lease.expiresAt, c.now() + MAX_TIMER_MS);
    // A registry (or nsmgr) stopped past the lease could not hear the refreshes: on resume the
    // owner gets the time lost back (up to one period) before the entry goes (tools/backoff/lease.ts).
    lease.timer = leaseTimer(
      c,
      at,
      () => {
        if (this.leases.get(lease.item.name) !== lease) return;
        if (c.now() < at || at < lease.expiresAt) return this.arm(ctx, c, lease);
        this.expire(ctx, c, lease);
      },
      {
        maxGraceMs: this.periodMs,
        onStall: (lostMs, graceMs) =>
          log.info(
            { element: 'expire', name: lease.item.name, lostMs, graceMs },
            'stopped past the lease; waiting for the refresh',
          ),
      },
    );
  }

  private expire(ctx: Context, c: Clock, lease: Lease): void {
    const name = lease.item.name;
    log.debug({ element: 'expire', op: 'expire', name }, 'registration expired, unregistering');
    const mark = (c: Context) => withValue(c, this.expiryKey, lease.id);
    const factory = begin.fromContext<NetworkServiceEndpoint>(ctx);
    let done: Promise<void>;
    if (factory) {
      done = factory.unregister(lease.item, mark);
    } else {
      // No begin in this chain: continue from here with a fresh context.
      const { ctx: eventCtx, cancel } = withTimeout(
        { ...background(), values: ctx.values },
        begin.EVENT_TIMEOUT_MS,
      );
      done = next.registry(ctx).unregister(mark(eventCtx), lease.item).finally(cancel) as Promise<void>;
    }
    done.catch((e: unknown) => {
      log.warn(
        { element: 'expire', op: 'expire', name, err: getErrorMessage(e) },
        'failed to unregister expired entry',
      );
      if (this.closed || this.leases.get(name) !== lease) return;
      lease.timer = c.setTimeout(() => {
        if (this.leases.get(name) === lease) this.expire(ctx, c, lease);
      }, EXPIRY_RETRY_MS);
    });
  }

  find(ctx: Context, query: NetworkServiceEndpointQuery, sink: (r: NetworkServiceEndpointResponse) => void) {
    return next
      .registry<NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .find(ctx, query, sink);
  }

  async unregister(ctx: Context, nse: NetworkServiceEndpoint): Promise<void> {
    const expiring = value<number>(ctx, this.expiryKey);
    if (expiring !== undefined && this.leases.get(nse.name)?.id !== expiring) {
      return; // refreshed or removed since the lease ran out: the expiry is stale
    }
    await next
      .registry<NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .unregister(ctx, nse);
    const lease = this.leases.get(nse.name);
    lease?.timer.clear();
    this.leases.delete(nse.name);
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const lease of this.leases.values()) lease.timer.clear();
    this.leases.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

export function newNseServer(opts: ExpireOptions = {}): ExpireServer {
  return new Expire(opts);
}
