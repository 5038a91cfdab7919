// Test elements that make chosen calls fail or change what they carry (sdk utils/inject).
import { status } from '@grpc/grpc-js';
import { type Clock, withClock } from '../core/clock.js';
import type { Context } from '../core/context.js';
import * as next from '../core/next.js';
import type { NetworkServiceElement } from '../core/types.js';
import { NsmError } from '../errors/index.js';

export interface InjectErrorOptions {
  /** 1-based numbers of the requests that fail; default: every request. */
  requestTimes?: number[];
  /** 1-based numbers of the closes that fail; default: none. */
  closeTimes?: number[];
  /** What is thrown; default an NsmError(UNAVAILABLE, 'injected error'). */
  error?: () => unknown;
}

/** Fails the chosen calls; the others continue down the chain. Counts calls in `requests`/`closes`. */
export function injectError(
  opts: InjectErrorOptions = {},
): NetworkServiceElement & { readonly requests: number; readonly closes: number } {
  const makeError = opts.error ?? (() => new NsmError(status.UNAVAILABLE, 'injected error'));
  let requests = 0;
  let closes = 0;
  return {
    get requests() {
      return requests;
    },
    get closes() {
      return closes;
    },
    async request(ctx, req) {
      requests++;
      if (opts.requestTimes === undefined || opts.requestTimes.includes(requests)) throw makeError();
      return next.server(ctx).request(ctx, req);
    },
    async close(ctx, conn) {
      closes++;
      if (opts.closeTimes?.includes(closes)) throw makeError();
      return next.server(ctx).close(ctx, conn);
    },
  };
}

/** Puts `clock` into the context of every call (sdk inject clock). */
export function injectClock(clock: Clock): NetworkServiceElement {
  const withIt = (ctx: Context) => withClock(ctx, clock);
  return {
    request: (ctx, req) => next.server(ctx).request(withIt(ctx), req),
    close: (ctx, conn) => next.server(ctx).close(withIt(ctx), conn),
  };
}

/**
 * Holds every request until `release()` lets the ones waiting at that moment continue. `waiting` is
 * how many are held now; `arrived` how many reached the gate in all.
 */
export function gate(): NetworkServiceElement & {
  release(): void;
  readonly waiting: number;
  readonly arrived: number;
} {
  const held: (() => void)[] = [];
  let arrived = 0;
  return {
    get waiting() {
      return held.length;
    },
    get arrived() {
      return arrived;
    },
    release() {
      for (const open of held.splice(0)) open();
    },
    async request(ctx, req) {
      arrived++;
      await new Promise<void>((resolve) => held.push(resolve));
      return next.server(ctx).request(ctx, req);
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
}
