// refresh (originating client only) re-requests each connection end to end before any hop's
// path segment expires: after scale × (earliest expiry − now), with upstream's scale (1/3 for a
// single segment, else 0.2 + 0.2 × index / segments, i.e. 0.2 for the client). A failed refresh is
// retried every RETRY_INTERVAL_MS until it works or the connection is closed. Each attempt may take
// at most half the time left before the earliest expiry (at least MIN_ATTEMPT_MS): a refresh stuck
// on a hung hop gives up while there is still time for another one, instead of holding the
// connection's events for the whole request timeout, past the expiry. Passthrough hops do not
// refresh. Timers run on the context's clock.
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { type Backoff, type BackoffFactory, constantBackoff } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';
import * as begin from '../begin/index.js';
import * as metadata from '../metadata/index.js';

const log = logger('refresh');
const TIMER_KEY = Symbol('refresh-timer');
/** Upstream retries a failed refresh every 200 ms. */
export const RETRY_INTERVAL_MS = 200;
/** The shortest deadline of one refresh attempt, however little time is left. */
export const MIN_ATTEMPT_MS = 500;
const ATTEMPT_FRACTION = 0.5;

/** The deadline of one refresh attempt: half the time left before the earliest expiry. */
export function attemptTimeout(conn: Connection, now: number): number | undefined {
  const expiries = (conn.path?.pathSegments ?? [])
    .map((s) => s.expires?.getTime())
    .filter((t): t is number => t !== undefined);
  if (expiries.length === 0) return undefined;
  return Math.max(MIN_ATTEMPT_MS, Math.floor((Math.min(...expiries) - now) * ATTEMPT_FRACTION));
}

export interface RefreshOptions {
  /** Delays between retries of a failed refresh (default: every RETRY_INTERVAL_MS). */
  retryBackoff?: BackoffFactory;
}

/** Milliseconds until a refresh is due, or undefined when no segment carries an expiry. */
export function refreshDelay(conn: Connection, now: number): number | undefined {
  const segments = conn.path?.pathSegments ?? [];
  const expiries = segments.map((s) => s.expires?.getTime()).filter((t): t is number => t !== undefined);
  if (expiries.length === 0) return undefined;
  const remaining = Math.max(0, Math.min(...expiries) - now);
  const index = conn.path?.index ?? 0;
  const scale = segments.length === 1 ? 1 / 3 : 0.2 + (0.2 * index) / segments.length;
  return Math.floor(remaining * scale);
}

class RefreshClient implements NetworkServiceClient {
  private readonly retryBackoff: BackoffFactory;

  constructor(opts: RefreshOptions) {
    this.retryBackoff = opts.retryBackoff ?? constantBackoff(RETRY_INTERVAL_MS);
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.client(ctx).request(ctx, req);
    this.schedule(ctx, conn);
    return conn;
  }

  /** Arms the next refresh; `retry` carries the backoff of a run of failed refreshes. */
  private schedule(ctx: Context, conn: Connection, retry?: Backoff): void {
    metadata.loadAndDelete<{ clear(): void }>(ctx, true, TIMER_KEY)?.clear();
    const events = begin.fromContext(ctx);
    const c = clock(ctx);
    const delay = retry ? retry.next() : refreshDelay(conn, c.now());
    if (!events || delay === undefined) return;
    const id = conn.id;
    const timer = c.setTimeout(() => {
      events.request({ timeoutMs: attemptTimeout(conn, c.now()) }).catch((e: unknown) => {
        log.warn({ id, error: getErrorMessage(e) }, 'refresh failed; retrying');
        // A failed event leaves the connection as it was: try again soon.
        this.schedule(ctx, conn, retry ?? this.retryBackoff());
      });
    }, delay);
    metadata.store(ctx, true, TIMER_KEY, timer);
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    metadata.loadAndDelete<{ clear(): void }>(ctx, true, TIMER_KEY)?.clear();
    await next.client(ctx).close(ctx, conn);
  }
}

export function newClient(opts: RefreshOptions = {}): NetworkServiceClient {
  return new RefreshClient(opts);
}
