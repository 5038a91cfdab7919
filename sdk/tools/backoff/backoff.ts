// Backoff policies: how long to wait before the next attempt. One implementation for every retry
// loop in the mesh (heal, registry refresh, monitor relay, gRPC reconnects), so the numbers live
// in one place and tests can inject their own sequence.
//
// Why not cockatiel: its retry and timeout policies schedule with the global setTimeout, so the
// fake clock in the Context could not drive them; the part we need (a capped doubling sequence)
// is a dozen lines, and waiting goes through `sleep(ctx, ms)` on the context's clock instead.

/** First delay of a capped doubling backoff. */
export const INITIAL_BACKOFF_MS = 100;
/** Longest delay of a capped doubling backoff. */
export const MAX_BACKOFF_MS = 2_000;

/**
 * A sequence of delays for one retry loop. The loop calls `next()` after each failure and waits
 * that long; it calls `reset()` after a success so the next failure starts from the first delay.
 */
export interface Backoff {
  next(): number;
  reset(): void;
}

/** Makes a fresh sequence for each retry loop; options take this, so tests can inject their own. */
export type BackoffFactory = () => Backoff;

export interface CappedDoublingOptions {
  /** First delay (default INITIAL_BACKOFF_MS). */
  initialMs?: number;
  /** Delays double up to this (default MAX_BACKOFF_MS). */
  maxMs?: number;
}

/** initial, 2·initial, 4·initial, … capped at max (kube `cache.ts`, grpc-js reconnect). */
export function cappedDoubling(opts: CappedDoublingOptions = {}): BackoffFactory {
  const initialMs = opts.initialMs ?? INITIAL_BACKOFF_MS;
  const maxMs = opts.maxMs ?? MAX_BACKOFF_MS;
  if (!(initialMs > 0) || !(maxMs >= initialMs)) {
    throw new RangeError(`backoff needs 0 < initialMs <= maxMs, got initialMs=${initialMs} maxMs=${maxMs}`);
  }
  return () => {
    let current = initialMs;
    return {
      next() {
        const d = current;
        current = Math.min(current * 2, maxMs);
        return d;
      },
      reset() {
        current = initialMs;
      },
    };
  };
}

/** The same delay every time (upstream refresh's 200 ms retry). */
export function constantBackoff(ms: number): BackoffFactory {
  if (!(ms >= 0)) throw new RangeError(`backoff delay must be >= 0, got ${ms}`);
  return () => ({ next: () => ms, reset() {} });
}

/** gRPC channels retry a restarting hop at least this often (a restart takes well under a second). */
export const MAX_GRPC_RECONNECT_BACKOFF_MS = 1_000;

/** gRPC channel options giving the channel's own reconnects the same capped doubling. */
export function grpcReconnectOptions(opts: CappedDoublingOptions = {}): {
  'grpc.initial_reconnect_backoff_ms': number;
  'grpc.max_reconnect_backoff_ms': number;
} {
  return {
    'grpc.initial_reconnect_backoff_ms': opts.initialMs ?? INITIAL_BACKOFF_MS,
    'grpc.max_reconnect_backoff_ms': opts.maxMs ?? MAX_GRPC_RECONNECT_BACKOFF_MS,
  };
}
