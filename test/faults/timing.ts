// Every wait of the fault matrix, derived from the lifetimes the daemons are configured with
// (FAULT_ENV), so that a deadline means "the mesh broke a promise" and never "the machine was slow":
// change the lifetime and every margin follows.
//
// The one free choice is the token lifetime. The mesh itself assumes that one request through the
// whole chain (nsc → nsmgr → forwarder → nsmgr → forwarder → nse) fits in 0.8 of it: the client
// refreshes with 0.8 of the lifetime left (sdk/networkservice/refresh/client.ts), and every hop
// closes a connection it has not heard from for a lifetime (timeout). A daemon restart must fit
// there too: until the restarted daemon serves again and the refresh gets through it, the hops
// behind it expire the connection. On this 2-core machine under load (NSM_TEST_CPU_LOAD=2 plus
// other test runs, load average 13-15) a daemon needs ~0.3 s of CPU to start but up to 3.8 s of
// wall time to get it, and the restarted daemon held the connection again up to 5.0 s after the
// kill (nsmgr on the endpoint's node: the forwarder and endpoints find it again with a doubling
// retry delay). The old 3 s lifetime (2.4 s for all that) lost the connection on such a machine;
// 10 s leaves 8 s.
import { parseDuration } from '../../sdk/tools/config/types.js';

/** The token lifetime of every daemon in the matrix (see above for why this value). */
export const TOKEN_LIFETIME = '10s';

/** Environment for every daemon of the matrix. */
export const FAULT_ENV: Record<string, string> = {
  NSM_MAX_TOKEN_LIFETIME: TOKEN_LIFETIME,
  // Registrations live as long as a token: a restarted registry learns them again within that.
  NSM_EXPIRE_PERIOD: TOKEN_LIFETIME,
  NSM_LIVENESS_CHECK_INTERVAL: '200ms',
  NSM_LIVENESS_CHECK_TIMEOUT: '1s',
};

/** One numbered datagram every STREAM_INTERVAL_MS from the client pod through the connection. */
export const STREAM_INTERVAL_MS = 20;
/** The stream is alive if its last reply is at most this old (a few intervals of scheduling jitter). */
export const REPLY_FRESH_MS = 25 * STREAM_INTERVAL_MS;
/** The client refreshes with 0.8 of the lifetime left (refresh/client.ts, client of a multi-hop path). */
const CLIENT_REFRESH_SCALE = 0.2;

export interface Timing {
  /** NSM_MAX_TOKEN_LIFETIME: a hop closes a connection nobody refreshed for this long. */
  lifetimeMs: number;
  /** How often the client refreshes. */
  refreshMs: number;
  /** The longest one request or close through the chain may take: what the product itself allows. */
  operationMs: number;
  /** NSM_LIVENESS_CHECK_INTERVAL + NSM_LIVENESS_CHECK_TIMEOUT: the nsc sees a dead data plane within this. */
  livenessMs: number;
  /** NSM_EXPIRE_PERIOD: the registry drops an entry nobody refreshed for this long. */
  expirePeriodMs: number;
  /** Traffic restored, a restarted daemon holding the connection, a new connection: within this of the fault. */
  recoveryMs: number;
  /** The connection's interfaces are gone this long after its client died (or closed). */
  cleanupMs: number;
  /** Orphans: the restarted forwarder scans, waits its grace period (a lifetime), then deletes. */
  orphanCleanupMs: number;
  /** A restarted registry has every registration back within this. */
  registrationsMs: number;
  /** After the fault, traffic is watched this long: every hop not refreshed since would have expired. */
  observeMs: number;
  /** After recovery, traffic is watched at least this long: a refresh went through the restarted daemon. */
  observeAfterRecoveryMs: number;
  /** Before the fault: a window this long with traffic and no outage (a refresh happened in it). */
  steadyWindowMs: number;
}

export function timing(env: Record<string, string>): Timing {
  const lifetimeMs = parseDuration(env.NSM_MAX_TOKEN_LIFETIME ?? '10m');
  const refreshMs = CLIENT_REFRESH_SCALE * lifetimeMs;
  const operationMs = lifetimeMs - refreshMs;
  const livenessMs =
    parseDuration(env.NSM_LIVENESS_CHECK_INTERVAL ?? '200ms') +
    parseDuration(env.NSM_LIVENESS_CHECK_TIMEOUT ?? '1s');
  const expirePeriodMs = parseDuration(env.NSM_EXPIRE_PERIOD ?? '1m');
  return {
    lifetimeMs,
    refreshMs,
    operationMs,
    livenessMs,
    expirePeriodMs,
    // Heal notices (liveness) and re-requests (one operation); a restart must fit in a lifetime,
    // or the hops behind it expire the connection.
    recoveryMs: livenessMs + lifetimeMs,
    // The last refresh came before the death: the token expires within a lifetime, then the close
    // runs through the chain.
    cleanupMs: lifetimeMs + operationMs,
    // Scan (one operation), grace (NSM_RECONCILE_GRACE defaults to the lifetime), sweep (one more).
    orphanCleanupMs: lifetimeMs + 2 * operationMs,
    // Registrations are refreshed at 2/3 of the expire period at the latest (at once when the
    // registry's stream breaks), then one operation to get there.
    registrationsMs: expirePeriodMs + operationMs,
    observeMs: lifetimeMs + refreshMs,
    observeAfterRecoveryMs: 2 * refreshMs,
    steadyWindowMs: refreshMs,
  };
}

export const TIMING = timing(FAULT_ENV);
