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

/**
 * The first attempt: a working data plane means only the control plane broke, so the same path is
 * requested again without touching interfaces; a dead one is rebuilt to the same endpoint (same
 * addresses), because the endpoint itself is more often fine than not.
 */
export function firstAttempt(dataPlaneAlive: boolean): Attempt {
  return dataPlaneAlive ? { reselect: false, keepEndpoint: true } : { reselect: true, keepEndpoint: true };
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
  if (code === status.NOT_FOUND || failed.reselect) return { reselect: true, keepEndpoint: false };
  if (REPAIRABLE.has(code)) return failed;
  return { reselect: true, keepEndpoint: true };
}

/**
 * Whether to wait (backoff) before `next`: only when it repeats the attempt that just failed. A
 * different, stronger action (rebuild after a failed repair, another endpoint after a failed
 * rebuild) starts at once.
 */
export function waitBefore(failed: Attempt, next: Attempt): boolean {
  return failed.reselect === next.reselect && failed.keepEndpoint === next.keepEndpoint;
}
