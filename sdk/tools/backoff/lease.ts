// A deadline that forgives the time this process did not run. A lease (a path segment's expiry,
// a registration's expiration_time) is a promise by a peer to renew before a deadline; when this
// process is stopped (SIGSTOP, a hung VM, heavy starvation) past that deadline, the renewals sent
// meanwhile could not be heard, and they are retried as soon as we answer again. Expiring at once
// on resume would punish the peers for our own absence. So when the timer fires more than
// STALL_THRESHOLD_MS late, the deadline moves on by the time lost (at most `maxGraceMs`), once;
// a peer that is really gone is still expired, just that much later.
import type { Clock } from '../../core/clock.js';

/** Timers later than this were not merely jittered: the process did not run (stopped or starved). */
export const STALL_THRESHOLD_MS = 1_000;

export interface LeaseTimerOptions {
  /** The most time given back after a stall (typically one lifetime or lease period). */
  maxGraceMs: number;
  /** Told when the deadline moved after a stall (for a log line). */
  onStall?: (lostMs: number, graceMs: number) => void;
}

/** Calls `fn` at `at` on `c`, giving the peers back the time lost to a stall first (see above). */
export function leaseTimer(c: Clock, at: number, fn: () => void, opts: LeaseTimerOptions): { clear(): void } {
  let timer: { clear(): void };
  let forgiven = false;
  const arm = (due: number) => {
    timer = c.setTimeout(
      () => {
        const lost = c.now() - due;
        if (!forgiven && lost > STALL_THRESHOLD_MS) {
          forgiven = true;
          const grace = Math.min(lost, opts.maxGraceMs);
          opts.onStall?.(lost, grace);
          arm(c.now() + grace);
          return;
        }
        fn();
      },
      Math.max(0, due - c.now()),
    );
  };
  arm(at);
  return { clear: () => timer.clear() };
}
