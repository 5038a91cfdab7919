import { type Context, value, withValue } from '../../core/context.js';
import type { Connection, NetworkServiceRequest } from '../../core/types.js';
import { cloneShared } from '../../tools/clone/index.js';

/** Re-enters the chain right after begin, serialised with every other event of the connection. */
export interface EventFactory {
  /**
   * Re-requests with the last request. With `reselect`, closes the path first and asks again
   * (state RESELECT_REQUESTED); `keepEndpoint` then keeps the endpoint and its addresses, so only
   * the path to it is rebuilt. `timeoutMs` bounds the event (default: begin's event timeout);
   * `signal` cancels it (heal: a reselect request preempts a repair).
   */
  request(opts?: {
    reselect?: boolean;
    keepEndpoint?: boolean;
    timeoutMs?: number;
    signal?: AbortSignal;
  }): Promise<Connection | undefined>;
  close(): Promise<void>;
}

const FACTORY_KEY = Symbol('begin-event-factory');

export function withEventFactory(ctx: Context, f: EventFactory): Context {
  return withValue(ctx, FACTORY_KEY, f);
}

export function fromContext(ctx: Context): EventFactory | undefined {
  return value<EventFactory>(ctx, FACTORY_KEY);
}

/** A copy the caller may change; its strings (the ~1 KiB tokens) are shared with `c` (see tools/clone). */
export function cloneConnection(c: Connection): Connection {
  return cloneShared(c);
}

export function cloneRequest(r: NetworkServiceRequest): NetworkServiceRequest {
  return cloneShared(r);
}

const RESELECT_CLOSE_KEY = Symbol('begin-reselect-close');

/** Marks the Close that begin sends before a reselect (the connection lives on under a new path). */
export function withReselectClose(ctx: Context): Context {
  return withValue(ctx, RESELECT_CLOSE_KEY, true);
}

export function isReselectClose(ctx: Context): boolean {
  return value<boolean>(ctx, RESELECT_CLOSE_KEY) === true;
}
