// The heal decisions as pure functions, so each failure kind can be tested without a chain.
import { status } from '@grpc/grpc-js';

/** What the next heal attempt asks begin for. */
export interface Attempt {
  /** Close the old path first and request it again (RESELECT_REQUESTED). */
  reselect: boolean;
  /** With reselect: keep the endpoint and its addresses, rebuild only the path to it. */
  keepEndpoint: boolean;
}

/** Failures of a passthrough hop (restarting nsmgr or forwarder): the same path may work soon. */
const REPAIRABLE = new Set<number>([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

/** Request the same path again without touching interfaces (a refresh). */
export const REPAIR: Attempt = { reselect: false, keepEndpoint: true };
/** Close the path and build it again to the same endpoint (same addresses). */
export const REBUILD: Attempt = { reselect: true, keepEndpoint: true };
/** Close the path and select any endpoint. */
export const RESELECT: Attempt = { reselect: true, keepEndpoint: false };

/**
 * Every heal starts with a repair, even with the data plane dead: when a hop or the underlay is only
 * unreachable for a while, tearing the path down cannot help (the rebuild needs the same hops) and
 * it throws away kernel state that works again the moment they are back. The heal loop rebuilds
 * when the repair succeeded and the data plane is still dead, or when it stayed dead for the
 * repair window (see client.ts).
 */
export function firstAttempt(): Attempt {
  return REPAIR;
}

/**
 * The attempt after `failed` failed with gRPC `code`:
 *  - the endpoint is gone (NOT_FOUND: no longer registered, or its socket does not answer):
 *    select another endpoint;
 *  - a rebuild to the same endpoint failed: select another endpoint;
 *  - a repair of the same path failed because a hop is restarting: try the same path again;
 *  - a repair failed otherwise: rebuild the path to the same endpoint.
 */
export function afterFailure(failed: Attempt, code: number): Attempt {
  if (code === status.NOT_FOUND || failed.reselect) return RESELECT;
  if (REPAIRABLE.has(code)) return failed;
  return REBUILD;
}

/**
 * Whether to wait (backoff) before `next`: only when it repeats the attempt that just failed. A
 * different, stronger action (rebuild after a failed repair, another endpoint after a failed
 * rebuild) starts at once.
 */
export function waitBefore(failed: Attempt, next: Attempt): boolean {
  return failed.reselect === next.reselect && failed.keepEndpoint === next.keepEndpoint;
}
