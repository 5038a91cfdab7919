// Keeps an endpoint (or forwarder) registered: registers, then registers again at 2/3 of the time
// left before the registry's expiration_time (upstream's NSE refresh), retrying with a capped
// backoff while the nsmgr or registry is away. close() stops refreshing and unregisters. Every
// timer runs on the clock of `opts.ctx`, so tests drive it with a fake one.
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { clock, withClock } from '../../core/clock.js';
import { background, type Context, withCancel, withTimeout } from '../../core/context.js';
import type { NseRegistry } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { type BackoffFactory, cappedDoubling, retry } from '../../tools/backoff/index.js';
import { logger } from '../../tools/log.js';

const log = logger('registry-refresh');

export const INITIAL_RETRY_BACKOFF_MS = 100;
export const MAX_RETRY_BACKOFF_MS = 2_000;
const CALL_TIMEOUT_MS = 5_000;
/** Used when the registry returns no expiration_time. */
const DEFAULT_REFRESH_MS = 20_000;
/** How long the first registration is retried unless `startTimeoutMs` says otherwise. */
const DEFAULT_START_TIMEOUT_MS = 30_000;
/** Upstream re-registers at 2/3 of the time left (sdk registry/common/refresh). */
const REFRESH_FRACTION = 2 / 3;

export interface Registration {
  readonly current: NetworkServiceEndpoint;
  close(): Promise<void>;
}

export interface KeepRegisteredOptions {
  /** How long to keep retrying the first registration before giving up (ms). */
  startTimeoutMs?: number;
  /** Watch our own entry and register again as soon as the registry we talk to restarts. */
  watch?: boolean;
  /**
   * Its clock drives every timer and deadline; cancelling it stops the first registration's
   * retries and any later refresh (close() still unregisters). Default: background().
   */
  ctx?: Context;
  /** Delays between failed registrations (default: capped doubling 100 ms … 2 s). */
  backoff?: BackoffFactory;
}

/** When the next refresh is due: at 2/3 of the time left before the registration expires. */
export function refreshIn(reg: NetworkServiceEndpoint, now: number): number {
  if (!reg.expirationTime) return DEFAULT_REFRESH_MS;
  return Math.max(0, (reg.expirationTime.getTime() - now) * REFRESH_FRACTION);
}

export async function keepRegistered(
  registry: NseRegistry,
  nse: NetworkServiceEndpoint,
  opts: KeepRegisteredOptions = {},
): Promise<Registration> {
  const parent = opts.ctx ?? background();
  const c = clock(parent);
  const life = withCancel(parent);
  const newBackoff =
    opts.backoff ?? cappedDoubling({ initialMs: INITIAL_RETRY_BACKOFF_MS, maxMs: MAX_RETRY_BACKOFF_MS });
  const registerOnce = async (): Promise<NetworkServiceEndpoint> => {
    const { ctx, cancel } = withTimeout(life.ctx, CALL_TIMEOUT_MS);
    try {
      return await registry.register(ctx, structuredClone(nse));
    } finally {
      cancel();
    }
  };

  let current: NetworkServiceEndpoint;
  try {
    current = await retry(life.ctx, registerOnce, {
      backoff: newBackoff,
      giveUpAfterMs: opts.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
      onRetry: (e) => log.debug({ err: e, nse: nse.name }, 'registration failed; retrying'),
    });
  } catch (e) {
    life.cancel();
    throw e;
  }

  let timer: { clear(): void } | undefined;
  let reconnectTimer: { clear(): void } | undefined;
  let closed = false;
  const schedule = (ms: number) => {
    if (closed) return;
    timer = c.setTimeout(refresh, ms);
  };
  const refreshBackoff = newBackoff();
  let inflight: Promise<NetworkServiceEndpoint> | undefined;
  const refresh = async (): Promise<boolean> => {
    timer?.clear();
    if (closed) return false;
    try {
      inflight = registerOnce();
      current = await inflight;
      refreshBackoff.reset();
      schedule(refreshIn(current, c.now()));
      return true;
    } catch (e) {
      if (!closed) {
        log.warn(
          { nse: nse.name, error: getErrorMessage(e) },
          'refreshing the registration failed; retrying',
        );
      }
      schedule(refreshBackoff.next());
      return false;
    }
  };
  schedule(refreshIn(current, c.now()));

  // Watching our own entry through the registry we registered with tells us at once when it
  // restarts (the stream breaks), and when our entry is removed while we still hold it (its lease
  // ran out because a hung nsmgr or registry kept our refreshes from arriving: the `deleted` event
  // arrives as soon as the hang ends). Either way, register again right away instead of at the
  // next refresh, so the registry and a restarted or resumed nsmgr know where we are within
  // milliseconds.
  const watchBackoff = newBackoff();
  let reregistering = false;
  const registerAgainNow = async () => {
    if (closed || reregistering) return;
    reregistering = true;
    try {
      log.info({ nse: nse.name }, 'our registration was removed; registering again');
      await refresh();
    } finally {
      reregistering = false;
    }
  };
  const watchOwnEntry = () => {
    if (closed || !opts.watch) return;
    const watch = withCancel(life.ctx);
    const again = () => {
      watch.cancel();
      if (!life.ctx.signal.aborted) reconnect();
    };
    registry
      .find(
        watch.ctx,
        {
          networkServiceEndpoint: { ...nse, networkServiceNames: [], networkServiceLabels: {}, url: '' },
          watch: true,
        },
        (r) => {
          if (r.deleted && r.networkServiceEndpoint?.name === nse.name) void registerAgainNow();
        },
      )
      .then(again, again);
  };
  const reconnect = () => {
    if (closed) return;
    reconnectTimer = c.setTimeout(async () => {
      reconnectTimer = undefined;
      if (closed) return;
      if (await refresh()) watchBackoff.reset();
      watchOwnEntry();
    }, watchBackoff.next());
  };
  watchOwnEntry();

  return {
    get current() {
      return current;
    },
    async close() {
      closed = true;
      timer?.clear();
      reconnectTimer?.clear();
      // Stops the watch and a refresh in flight; wait for the latter so it cannot land after the
      // unregister below.
      life.cancel(new Error('registration closed'));
      await inflight?.catch(() => undefined);
      const { ctx, cancel } = withTimeout(withClock(background(), c), CALL_TIMEOUT_MS);
      try {
        await registry.unregister(ctx, current);
      } catch (e) {
        log.warn({ nse: nse.name, error: getErrorMessage(e) }, 'unregister failed');
      } finally {
        cancel();
      }
    },
  };
}
