// heal (originating client only) keeps a connection working after failures:
//  - control plane: it watches the connection on the nsmgr's MonitorConnections stream; the stream
//    breaking (nsmgr died) or a DOWN event (something downstream died) triggers a heal; a
//    RESELECT_REQUESTED event (a hop's nsmgr saw the service or the endpoint's labels change so that
//    the endpoint no longer matches, see netsvcmonitor, or the forwarder saw the endpoint's process
//    die) selects another endpoint at once, also when it arrives during a repair (which it cancels:
//    the liveness check often notices a dead endpoint first);
//  - data plane: every `livenessIntervalMs` it checks the connection with `livenessCheck`. A failed
//    check heals only after `livenessGraceMs` without word from the path: when an endpoint dies,
//    the client's interface often goes at once while its forwarder's RESELECT_REQUESTED takes
//    ~0.1 s, and a repair started meanwhile could only fail, holding up the Close of the reselect
//    behind it at every hop (begin) on a node busy healing.
// Healing (decisions in common.ts): first re-request the same path (repair the control plane
// without touching interfaces; a hop that is UNAVAILABLE is retried). If the data plane is dead and
// stays dead after a repair went through, or for longer than the repair window while the path does
// not answer (a hop or the underlay away for good), the path to the same endpoint is rebuilt (same
// addresses); if the endpoint is gone, another one is selected (NOT_FOUND with the data plane still
// answering is retried for the repair window first: a restarted nsmgr that the endpoint has not
// registered with again yet). An underlay that is down for a few
// seconds thus costs no rebuild: traffic flows again the moment it is back. It keeps trying, with a capped backoff, until it works or the client
// closes. All waiting is on the context's clock, so tests drive it with a fake one.

import { status } from '@grpc/grpc-js';
import { type Connection, type ConnectionEvent, State } from '../../../api/gen/networkservice/connection.js';
import { clock, withClock } from '../../core/clock.js';
import { background, type Cancelable, type Context, withCancel } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { getErrorCode, getErrorMessage } from '../../errors/index.js';
import type { ClientPool, MonitorStream } from '../../grpc/client-pool.js';
import { type BackoffFactory, cappedDoubling, every, sleep } from '../../tools/backoff/index.js';
import { cloneShared } from '../../tools/clone/index.js';
import { logger } from '../../tools/log.js';
import { heals, metricsEnabled, reselects } from '../../tools/metrics/index.js';
import * as begin from '../begin/index.js';
import { clientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';
import { type Attempt, afterFailure, firstAttempt, REBUILD, RESELECT, waitBefore } from './common.js';

const log = logger('heal');

/** The client's own path segment names it in the heal metrics. */
function clientName(conn: Connection): string {
  return conn.path?.pathSegments[0]?.name ?? '';
}
const STATE_KEY = Symbol('heal-state');
/** How often the data plane is checked (upstream's default and cmd-nsc's). */
export const DEFAULT_LIVENESS_INTERVAL_MS = 200;
/** How long one data-plane check may take (cmd-nsc's NSM_LIVENESS_CHECK_TIMEOUT). */
export const DEFAULT_LIVENESS_TIMEOUT_MS = 1_000;
/** How long a failed check waits for the path's own report (DOWN, RESELECT_REQUESTED) before healing. */
export const DEFAULT_LIVENESS_GRACE_MS = 150;
/** Heal retries start fast (a restarting hop is back within tens of ms) and stay frequent. */
const INITIAL_HEAL_BACKOFF_MS = 50;
const MAX_HEAL_BACKOFF_MS = 1_000;
/** How long a dead data plane waits for its unreachable path before it is rebuilt. */
export const DEFAULT_REPAIR_WINDOW_MS = 5_000;

export interface HealOptions {
  /** Opens MonitorConnections streams to the nsmgr (narrowed so tests can pass a fake). */
  pool: Pick<ClientPool, 'monitor'>;
  livenessCheck?: (conn: Connection, timeoutMs: number) => Promise<boolean>;
  livenessIntervalMs?: number;
  livenessTimeoutMs?: number;
  /** How long a failed check waits for word from the path before it heals (default 150 ms). */
  livenessGraceMs?: number;
  /** Delays between failed heal attempts (default: capped doubling 50 ms … 1 s). */
  backoff?: BackoffFactory;
  /** How long repairs are retried while the data plane is dead and the path does not answer. */
  repairWindowMs?: number;
}

interface HealState {
  conn: Connection;
  /** Lives from the first successful Request until the client closes; carries the clock. */
  life: Cancelable;
  stream?: MonitorStream;
  stopLiveness?: () => void;
  healing: boolean;
  /** The client closed the connection: stop everything. */
  closed: boolean;
  /** A reselect closed this path; the next successful Request brings a new state. */
  superseded: boolean;
  /** While healing: a hop asked for a reselect; the next attempt reselects. */
  reselectAsked?: boolean;
  /** While healing: the attempt in flight or next. */
  attempt?: Attempt;
  /** While a repair is in flight: cancels it (a reselect request makes it pointless). */
  abortRepair?: () => void;
  /** Heals started so far: a liveness check that a heal overtook speaks of a path that is gone. */
  heals: number;
}

class HealClient implements NetworkServiceClient {
  private readonly livenessIntervalMs: number;
  private readonly livenessTimeoutMs: number;
  private readonly livenessGraceMs: number;
  private readonly backoff: BackoffFactory;
  private readonly repairWindowMs: number;
  /**
   * The state healing through each connection's event factory. A reselect drops the connection's
   * metadata (and so its state) while the heal loop goes on; the client's Close must still find
   * and stop that loop.
   */
  private readonly healingVia = new WeakMap<begin.EventFactory, HealState>();

  constructor(private readonly opts: HealOptions) {
    if (!opts?.pool) throw new Error('heal.newClient: opts.pool is required');
    this.livenessIntervalMs = opts.livenessIntervalMs ?? DEFAULT_LIVENESS_INTERVAL_MS;
    this.livenessTimeoutMs = opts.livenessTimeoutMs ?? DEFAULT_LIVENESS_TIMEOUT_MS;
    this.livenessGraceMs = opts.livenessGraceMs ?? DEFAULT_LIVENESS_GRACE_MS;
    this.repairWindowMs = opts.repairWindowMs ?? DEFAULT_REPAIR_WINDOW_MS;
    this.backoff =
      opts.backoff ?? cappedDoubling({ initialMs: INITIAL_HEAL_BACKOFF_MS, maxMs: MAX_HEAL_BACKOFF_MS });
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.client(ctx).request(ctx, req);
    let state = metadata.load<HealState>(ctx, true, STATE_KEY);
    if (!state) {
      // Not linked to the request's signal: healing outlives the call that set the connection up.
      const life = withCancel(withClock(background(), clock(ctx)));
      state = { conn, life, healing: false, closed: false, superseded: false, heals: 0 };
      metadata.store(ctx, true, STATE_KEY, state);
    }
    state.conn = cloneShared(conn);
    const events = begin.fromContext(ctx);
    const url = clientURL(ctx);
    if (events && url) this.watch(state, events, url);
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    if (begin.isReselectClose(ctx)) {
      // Healing closes the old path itself; keep healing until the new one works.
      const state = metadata.load<HealState>(ctx, true, STATE_KEY);
      if (state) {
        state.superseded = true;
        this.unwatch(state);
      }
    } else {
      const events = begin.fromContext(ctx);
      const healing = events && this.healingVia.get(events);
      for (const state of [metadata.loadAndDelete<HealState>(ctx, true, STATE_KEY), healing]) {
        if (!state) continue;
        state.closed = true;
        this.unwatch(state);
        state.life.cancel(new Error('connection closed'));
      }
    }
    await next.client(ctx).close(ctx, conn);
  }

  private unwatch(state: HealState): void {
    void state.stream?.close();
    state.stream = undefined;
    state.stopLiveness?.();
    state.stopLiveness = undefined;
  }

  private watch(state: HealState, events: begin.EventFactory, url: string): void {
    if (state.closed || state.superseded) return;
    void state.stream?.close();
    const own = state.conn.path?.pathSegments[state.conn.path.index];
    const stream: MonitorStream = this.opts.pool.monitor(
      url,
      {
        pathSegments: own ? [{ id: own.id, name: own.name, token: '', expires: undefined, metrics: {} }] : [],
        networkServices: [],
      },
      (ev: ConnectionEvent) => {
        const mine = Object.values(ev.connections).find(
          (c) => own && c.path?.pathSegments.some((s) => s.id === own.id),
        );
        if (mine?.state === State.DOWN)
          void this.heal(state, events, url, 'a hop reported the connection down');
        else if (mine?.state === State.RESELECT_REQUESTED && state.healing) {
          // The liveness check often sees a dead endpoint first and starts a repair, which can only
          // fail (after crossing every hop, ~1 s on a loaded node): cancel it and reselect.
          if (state.attempt?.reselect) return;
          state.reselectAsked = true;
          state.abortRepair?.();
        } else if (mine?.state === State.RESELECT_REQUESTED)
          void this.heal(state, events, url, 'a hop asked for another endpoint', undefined, RESELECT);
      },
      (err) => {
        if (state.stream === stream) state.stream = undefined; // so that healing watches again
        void stream.close();
        void this.heal(
          state,
          events,
          url,
          `lost the monitor stream: ${err ? getErrorMessage(err) : 'ended'}`,
        );
      },
    );
    state.stream = stream;
    const check = this.opts.livenessCheck;
    if (!state.stopLiveness && check) {
      state.stopLiveness = every(state.life.ctx, this.livenessIntervalMs, async () => {
        if (state.healing || state.closed) return;
        const heals = state.heals;
        // A check that was waiting on a dead path when a heal began answers after that heal is
        // done: it speaks of the path the heal replaced (it healed the new path a second time).
        const overtaken = () => state.closed || state.healing || state.superseded || state.heals !== heals;
        if ((await check(state.conn, this.livenessTimeoutMs)) || overtaken()) return;
        // The path's report, if one comes, starts the heal meanwhile (see the header).
        if (state.stream && this.livenessGraceMs > 0) await sleep(state.life.ctx, this.livenessGraceMs);
        if (!overtaken()) void this.heal(state, events, url, 'the data plane does not answer', false);
      });
    }
  }

  private async dataPlaneAlive(state: HealState): Promise<boolean> {
    const check = this.opts.livenessCheck;
    return check ? check(state.conn, this.livenessTimeoutMs) : true;
  }

  private async heal(
    state: HealState,
    events: begin.EventFactory,
    url: string,
    why: string,
    dataPlaneAlive?: false,
    first: Attempt = firstAttempt(),
  ): Promise<void> {
    if (state.healing || state.closed) return;
    state.healing = true;
    state.heals++;
    state.reselectAsked = false;
    this.healingVia.set(events, state);
    // The monitor stream stays open while healing, for a reselect request (see watch); a
    // successful attempt re-enters request(), which opens a new one.
    log.info({ id: state.conn.id, why }, 'healing');
    const c = clock(state.life.ctx);
    const started = c.now();
    const backoff = this.backoff();
    let attempt: Attempt = first;
    // The data plane's state when the caller knows it; otherwise the loop checks before a repair.
    let known = dataPlaneAlive;
    // Set once the data plane was found dead: repairs of an unreachable path are retried until then.
    let repairUntil: number | undefined;
    // Set at the first NOT_FOUND of a repair while the data plane answers (see the catch below).
    let notFoundUntil: number | undefined;
    try {
      while (!state.closed) {
        if (state.reselectAsked && !attempt.reselect) attempt = RESELECT;
        state.reselectAsked = false;
        if (!attempt.reselect) {
          const alive = known ?? (await this.dataPlaneAlive(state));
          known = undefined;
          if (!alive) {
            repairUntil ??= c.now() + this.repairWindowMs;
            if (c.now() >= repairUntil) attempt = REBUILD;
          }
        }
        try {
          if (attempt.reselect && metricsEnabled()) reselects.inc({ client: clientName(state.conn) });
          // Re-entering at begin runs this element's request again, which restarts the watch.
          state.attempt = attempt;
          const repair = attempt.reselect ? undefined : new AbortController();
          state.abortRepair = repair && (() => repair.abort(new Error('a hop asked for a reselect')));
          const conn = await events.request({ ...attempt, signal: repair?.signal }).finally(() => {
            state.abortRepair = undefined;
          });
          if (conn && !attempt.reselect && repairUntil !== undefined && !(await this.dataPlaneAlive(state))) {
            // The path answers, so its hops are there, but the data plane is still dead: rebuild it.
            attempt = REBUILD;
            continue;
          }
          if (conn) log.info({ id: state.conn.id, ...attempt, ms: c.now() - started }, 'healed');
          if (conn && metricsEnabled()) heals.inc({ client: clientName(state.conn), result: 'healed' });
          return; // healed, or closed meanwhile
        } catch (e) {
          const code = getErrorCode(e);
          if (state.reselectAsked) continue; // the loop's top turns it into a reselect, at once
          let following = afterFailure(attempt, code);
          // A restarted nsmgr answers NOT_FOUND for a local endpoint until that endpoint has
          // registered with it again (~1 s). While the endpoint still answers in the data plane,
          // repair again for up to the repair window instead of tearing down a working path.
          if (
            following.reselect &&
            code === status.NOT_FOUND &&
            !attempt.reselect &&
            this.opts.livenessCheck
          ) {
            notFoundUntil ??= c.now() + this.repairWindowMs;
            if (c.now() < notFoundUntil && (await this.dataPlaneAlive(state))) following = attempt;
          }
          log.debug(
            { id: state.conn.id, ...attempt, code, error: getErrorMessage(e) },
            'heal attempt failed',
          );
          if (waitBefore(attempt, following)) await sleep(state.life.ctx, backoff.next());
          attempt = following;
        }
      }
    } catch (e) {
      // Only the sleep throws, and only when the client closed the connection.
      log.debug({ id: state.conn.id, error: getErrorMessage(e) }, 'healing stopped');
      if (metricsEnabled()) heals.inc({ client: clientName(state.conn), result: 'stopped' });
    } finally {
      state.healing = false;
      state.attempt = undefined;
      if (this.healingVia.get(events) === state) this.healingVia.delete(events);
      if (!state.closed && !state.superseded && !state.stream) this.watch(state, events, url);
    }
  }
}

export function newClient(opts: HealOptions): NetworkServiceClient {
  return new HealClient(opts);
}
