// timeout closes a connection that its client stopped refreshing: after each successful Request
// it schedules a Close for when the previous hop's path segment expires (the caller's promise to
// refresh before then). The Close enters the chain at begin, so it is serialised with everything
// else and removes the connection's kernel state downstream. It sits after begin and metadata.
//   client killed (kill -9) ──▶ no refresh ──▶ segment expires ──▶ nsmgr closes ──▶ forwarder deletes links
// A hop that was itself stopped (SIGSTOP) past the expiry does not close at once when it resumes:
// the refreshes it missed were sent to it and are retried now, so it gives the client back the time
// it lost, up to one lifetime (sdk/tools/backoff/lease.ts; README.md here). And while the previous
// hop still watches the connection on our MonitorConnections (its stream is open: it is alive or
// hung, not dead), the close waits, up to MAX_HOLD_LIFETIMES more lifetimes: a hung nsmgr upstream
// must not make the hops behind it tear down a data plane that works (README.md here).
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { leaseTimer } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import * as begin from '../begin/index.js';
import * as metadata from '../metadata/index.js';

const log = logger('timeout');
const TIMER_KEY = Symbol('timeout-timer');
/** Close a little before the expiry, so the kernel state is gone by then (upstream subtracts its request timeout). */
const MAX_MARGIN_MS = 1_000;
const MARGIN_FRACTION = 0.1;
/** How long past the expiry a connection is held while its previous hop still watches it. */
export const MAX_HOLD_LIFETIMES = 2;
/** How often a held connection checks whether its previous hop still watches (fraction of the lifetime, at most 1 s). */
const HOLD_CHECK_FRACTION = 0.1;
const MAX_HOLD_CHECK_MS = 1_000;

export interface TimeoutOptions {
  /**
   * Whether the previous hop still watches the connection with this id (a MonitorConnections stream
   * that selects it is open). chains/endpoint asks its monitor, about the copy the monitor holds.
   * Absent: close at the expiry. It takes the id, not the connection, so that the timer, which lives
   * as long as the connection, holds no copy of it (issue 15: one copy of a connection per hop).
   */
  previousHopWatching?: (id: string) => boolean;
}

/** When the caller's promise runs out: the previous segment's expiry, else our own. */
export function expiryOf(conn: Connection): number | undefined {
  const path = conn.path;
  if (!path) return undefined;
  const previous = path.index > 0 ? path.pathSegments[path.index - 1] : undefined;
  const own = path.pathSegments[path.index];
  return (previous?.expires ?? own?.expires)?.getTime();
}

/** Time until the Close: the time left minus a margin of 10% of it, at most 1 s. */
export function closeDelay(leftMs: number): number {
  return Math.max(0, leftMs - Math.min(MAX_MARGIN_MS, leftMs * MARGIN_FRACTION));
}

class TimeoutServer implements NetworkServiceServer {
  constructor(private readonly opts: TimeoutOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const expiresAt = expiryOf(req.connection!);
    const conn = await next.server(ctx).request(ctx, req);
    metadata.loadAndDelete<{ clear(): void }>(ctx, false, TIMER_KEY)?.clear();
    const events = begin.fromContext(ctx);
    if (expiresAt !== undefined && events) {
      const c = clock(ctx);
      const id = conn.id;
      const now = c.now();
      const lifetimeMs = Math.max(0, expiresAt - now);
      const watching = this.opts.previousHopWatching;
      let holdUntil: number | undefined;
      // One handle for the metadata, whichever timer is current (expiry, or a hold check).
      let current: { clear(): void } = { clear() {} };
      const timer = { clear: () => current.clear() };
      let held: { clear(): void } | undefined;
      const expire = () => {
        if (watching?.(id)) {
          holdUntil ??= c.now() + MAX_HOLD_LIFETIMES * lifetimeMs;
          if (c.now() < holdUntil) {
            if (current !== held)
              log.info({ id }, 'expired, but the previous hop still watches it (hung?); holding it');
            current = held = c.setTimeout(
              expire,
              Math.min(MAX_HOLD_CHECK_MS, lifetimeMs * HOLD_CHECK_FRACTION, holdUntil - c.now()),
            );
            return;
          }
        }
        log.info({ id }, 'connection expired without a refresh; closing it');
        events
          .close()
          .catch((e: unknown) => log.warn({ id, error: getErrorMessage(e) }, 'expiry close failed'));
      };
      current = leaseTimer(c, now + closeDelay(expiresAt - now), expire, {
        // The lifetime the caller gave this connection: what a stall may give back at most.
        maxGraceMs: lifetimeMs,
        onStall: (lostMs, graceMs) =>
          log.info({ id, lostMs, graceMs }, 'this hop was stopped past the expiry; waiting for the refresh'),
      });
      metadata.store(ctx, false, TIMER_KEY, timer);
    }
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    metadata.loadAndDelete<{ clear(): void }>(ctx, false, TIMER_KEY)?.clear();
    await next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: TimeoutOptions = {}): NetworkServiceServer {
  return new TimeoutServer(opts);
}
