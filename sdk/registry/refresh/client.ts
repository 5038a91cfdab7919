// Keeps an endpoint (or forwarder) registered: registers, then registers again at 2/3 of the time
// left before the registry's expiration_time (upstream's NSE refresh), retrying with a capped
// backoff while the nsmgr or registry is away. close() stops refreshing and unregisters.
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background, type Context, withTimeout } from '../../core/context.js';
import type { NseRegistry } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { logger } from '../../tools/log.js';

const log = logger('registry-refresh');

export const RETRY_MIN_MS = 100;
export const RETRY_MAX_MS = 2_000;
const CALL_TIMEOUT_MS = 5_000;
/** Used when the registry returns no expiration_time. */
const DEFAULT_REFRESH_MS = 20_000;

export interface Registration {
  readonly current: NetworkServiceEndpoint;
  close(): Promise<void>;
}

export interface KeepRegisteredOptions {
  /** How long to keep retrying the first registration before giving up (ms). */
  startTimeoutMs?: number;
  /** Watch our own entry and register again as soon as the registry we talk to restarts. */
  watch?: boolean;
}

async function registerOnce(
  registry: NseRegistry,
  nse: NetworkServiceEndpoint,
): Promise<NetworkServiceEndpoint> {
  const { ctx, cancel } = withTimeout(background(), CALL_TIMEOUT_MS);
  try {
    return await registry.register(ctx, structuredClone(nse));
  } finally {
    cancel();
  }
}

export async function keepRegistered(
  registry: NseRegistry,
  nse: NetworkServiceEndpoint,
  opts: KeepRegisteredOptions = {},
): Promise<Registration> {
  const giveUpAt = Date.now() + (opts.startTimeoutMs ?? 30_000);
  let delay = RETRY_MIN_MS;
  let current: NetworkServiceEndpoint;
  for (;;) {
    try {
      current = await registerOnce(registry, nse);
      break;
    } catch (e) {
      if (Date.now() + delay > giveUpAt) throw e;
      log.debug({ err: e, nse: nse.name }, 'registration failed; retrying');
      await new Promise((r) => setTimeout(r, delay));
      delay = Math.min(delay * 2, RETRY_MAX_MS);
    }
  }

  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let watch: AbortController | undefined;
  const schedule = (ms: number) => {
    if (closed) return;
    timer = setTimeout(refresh, Math.max(0, ms));
  };
  const refreshIn = (reg: NetworkServiceEndpoint) =>
    reg.expirationTime ? ((reg.expirationTime.getTime() - Date.now()) * 2) / 3 : DEFAULT_REFRESH_MS;
  let retryDelay = RETRY_MIN_MS;
  let inflight: Promise<NetworkServiceEndpoint> | undefined;
  const refresh = async (): Promise<boolean> => {
    if (timer) clearTimeout(timer);
    if (closed) return false;
    try {
      inflight = registerOnce(registry, nse);
      current = await inflight;
      retryDelay = RETRY_MIN_MS;
      schedule(refreshIn(current));
      return true;
    } catch (e) {
      log.warn({ nse: nse.name, error: getErrorMessage(e) }, 'refreshing the registration failed; retrying');
      schedule(retryDelay);
      retryDelay = Math.min(retryDelay * 2, RETRY_MAX_MS);
      return false;
    }
  };
  schedule(refreshIn(current));

  // Watching our own entry through the registry we registered with tells us at once when it
  // restarts (the stream breaks): register again right away instead of at the next refresh, so a
  // restarted nsmgr learns where we are within milliseconds.
  const watchOwnEntry = () => {
    if (closed || !opts.watch) return;
    watch = new AbortController();
    const signal = watch.signal;
    registry
      .find(
        { signal, values: new Map() },
        {
          networkServiceEndpoint: { ...nse, networkServiceNames: [], networkServiceLabels: {}, url: '' },
          watch: true,
        },
        () => {},
      )
      .then(
        () => !signal.aborted && reconnect(),
        () => !signal.aborted && reconnect(),
      );
  };
  let watchDelay = RETRY_MIN_MS;
  const reconnect = () => {
    if (closed) return;
    setTimeout(async () => {
      if (closed) return;
      const ok = await refresh();
      watchDelay = ok ? RETRY_MIN_MS : Math.min(watchDelay * 2, RETRY_MAX_MS);
      watchOwnEntry();
    }, watchDelay);
  };
  watchOwnEntry();

  return {
    get current() {
      return current;
    },
    async close() {
      closed = true;
      watch?.abort();
      if (timer) clearTimeout(timer);
      await inflight?.catch(() => undefined);
      const { ctx, cancel }: { ctx: Context; cancel: () => void } = withTimeout(
        background(),
        CALL_TIMEOUT_MS,
      );
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
