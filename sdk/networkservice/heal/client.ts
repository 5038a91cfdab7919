// heal (originating client only) keeps a connection working after failures:
//  - control plane: it watches the connection on the nsmgr's MonitorConnections stream; the stream
//    breaking (nsmgr died) or a DOWN event (something downstream died) triggers a heal;
//  - data plane: every `livenessIntervalMs` it checks the connection with `livenessCheck`.
// Healing: if the data plane still works, re-request the same path (repair the control plane
// without touching interfaces; a hop that is UNAVAILABLE is retried). If the data plane is dead, the
// path to the same endpoint is rebuilt (same addresses); if the endpoint is gone, another one is
// selected. It keeps trying, with a capped backoff, until it works or the client closes.

import { status } from '@grpc/grpc-js';
import type { Connection, ConnectionEvent } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { getErrorCode, getErrorMessage } from '../../errors/index.js';
import type { ClientPool, MonitorStream } from '../../grpc/client-pool.js';
import { logger } from '../../tools/log.js';
import * as begin from '../begin/index.js';
import { clientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';

const log = logger('heal');
const STATE_KEY = Symbol('heal-state');
const STATE_DOWN = 1;
const BACKOFF_MIN_MS = 50;
const BACKOFF_MAX_MS = 1_000;
/** Failures of a passthrough hop: retry the same path while the data plane works. */
const REPAIRABLE = new Set([status.UNAVAILABLE, status.DEADLINE_EXCEEDED]);

export interface HealOptions {
  pool: ClientPool;
  livenessCheck?: (conn: Connection, timeoutMs: number) => Promise<boolean>;
  livenessIntervalMs?: number;
  livenessTimeoutMs?: number;
}

interface HealState {
  conn: Connection;
  stream?: MonitorStream;
  liveness?: NodeJS.Timeout;
  healing: boolean;
  /** The client closed the connection: stop everything. */
  closed: boolean;
  /** A reselect closed this path; the next successful Request brings a new state. */
  superseded: boolean;
}

class HealClient implements NetworkServiceClient {
  constructor(private readonly opts: HealOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.client(ctx).request(ctx, req);
    let state = metadata.load<HealState>(ctx, true, STATE_KEY);
    if (!state) {
      state = { conn, healing: false, closed: false, superseded: false };
      metadata.store(ctx, true, STATE_KEY, state);
    }
    state.conn = structuredClone(conn);
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
        void state.stream?.close();
        state.stream = undefined;
        if (state.liveness) clearInterval(state.liveness);
        state.liveness = undefined;
      }
    } else {
      const state = metadata.loadAndDelete<HealState>(ctx, true, STATE_KEY);
      if (state) this.stop(state);
    }
    await next.client(ctx).close(ctx, conn);
  }

  private stop(state: HealState): void {
    state.closed = true;
    void state.stream?.close();
    state.stream = undefined;
    if (state.liveness) clearInterval(state.liveness);
    state.liveness = undefined;
  }

  private watch(state: HealState, events: begin.EventFactory, url: string): void {
    if (state.closed || state.superseded) return;
    void state.stream?.close();
    const own = state.conn.path?.pathSegments[state.conn.path.index];
    state.stream = this.opts.pool.monitor(
      url,
      {
        pathSegments: own ? [{ id: own.id, name: own.name, token: '', expires: undefined, metrics: {} }] : [],
        networkServices: [],
      },
      (ev: ConnectionEvent) => {
        const mine = Object.values(ev.connections).find(
          (c) => own && c.path?.pathSegments.some((s) => s.id === own.id),
        );
        if (mine?.state === STATE_DOWN)
          void this.heal(state, events, url, 'a hop reported the connection down');
      },
      (err) =>
        void this.heal(
          state,
          events,
          url,
          `lost the monitor stream: ${err ? getErrorMessage(err) : 'ended'}`,
        ),
    );
    if (!state.liveness && this.opts.livenessCheck) {
      const check = this.opts.livenessCheck;
      const timeoutMs = this.opts.livenessTimeoutMs ?? 1_000;
      let running = false;
      state.liveness = setInterval(async () => {
        if (running || state.healing || state.closed) return;
        running = true;
        try {
          if (!(await check(state.conn, timeoutMs)) && !state.closed && !state.healing) {
            void this.heal(state, events, url, 'the data plane does not answer', true);
          }
        } finally {
          running = false;
        }
      }, this.opts.livenessIntervalMs ?? 200);
      state.liveness.unref();
    }
  }

  private async heal(
    state: HealState,
    events: begin.EventFactory,
    url: string,
    why: string,
    dataPlaneDead = false,
  ): Promise<void> {
    if (state.healing || state.closed) return;
    state.healing = true;
    void state.stream?.close();
    state.stream = undefined;
    log.info({ id: state.conn.id, why }, 'healing');
    const started = Date.now();
    let reselect = dataPlaneDead;
    // A dead data plane is first rebuilt to the same endpoint (same addresses); only if that fails
    // is another endpoint selected.
    let keepEndpoint = true;
    let delay = BACKOFF_MIN_MS;
    try {
      while (!state.closed) {
        if (!reselect && this.opts.livenessCheck) {
          reselect = !(await this.opts.livenessCheck(state.conn, this.opts.livenessTimeoutMs ?? 1_000));
        }
        try {
          // Re-entering at begin runs this element's request again, which restarts the watch.
          const conn = await events.request({ reselect, keepEndpoint });
          if (conn)
            log.info({ id: state.conn.id, reselect, keepEndpoint, ms: Date.now() - started }, 'healed');
          return; // healed, or closed meanwhile
        } catch (e) {
          log.debug(
            { id: state.conn.id, reselect, keepEndpoint, error: getErrorMessage(e) },
            'heal attempt failed',
          );
          // A hop on the way being unavailable (restarting) is not a reason to give up a working data
          // plane; anything else (the endpoint is gone) is: ask for a new path, then a new endpoint.
          if (reselect) keepEndpoint = false;
          else if (!REPAIRABLE.has(getErrorCode(e))) reselect = true;
        }
        if (!reselect || !keepEndpoint) {
          await new Promise((r) => setTimeout(r, delay));
          delay = Math.min(delay * 2, BACKOFF_MAX_MS);
        }
      }
    } finally {
      state.healing = false;
      if (!state.closed && !state.superseded && !state.stream) this.watch(state, events, url);
    }
  }
}

export function newClient(opts: HealOptions): NetworkServiceClient {
  return new HealClient(opts);
}
