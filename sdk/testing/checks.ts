// Test elements that look at what passes through a chain (sdk utils/checks): each runs a check
// function and then continues with the next element, so a test can assert what arrives at a given
// position without writing a whole element.
import type { Context } from '../core/context.js';
import * as next from '../core/next.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest } from '../core/types.js';

/** Calls `fn` with every request that arrives, then continues down the chain. */
export function checkRequest(fn: (ctx: Context, req: NetworkServiceRequest) => void): NetworkServiceElement {
  return {
    request(ctx, req) {
      fn(ctx, req);
      return next.server(ctx).request(ctx, req);
    },
    close: (ctx, conn) => next.server(ctx).close(ctx, conn),
  };
}

/** Calls `fn` with every connection that is closed, then continues down the chain. */
export function checkClose(fn: (ctx: Context, conn: Connection) => void): NetworkServiceElement {
  return {
    request: (ctx, req) => next.server(ctx).request(ctx, req),
    close(ctx, conn) {
      fn(ctx, conn);
      return next.server(ctx).close(ctx, conn);
    },
  };
}

/** Calls `fn` with the context of every request and close. */
export function checkContext(fn: (ctx: Context) => void): NetworkServiceElement {
  return {
    request(ctx, req) {
      fn(ctx);
      return next.server(ctx).request(ctx, req);
    },
    close(ctx, conn) {
      fn(ctx);
      return next.server(ctx).close(ctx, conn);
    },
  };
}

export interface RecordedCall {
  op: 'request' | 'close';
  /** A deep copy of the request (for request) or the connection (for close), as it arrived. */
  request?: NetworkServiceRequest;
  conn?: Connection;
  ctx: Context;
}

/** An element that records every call (deep copies, as they arrived) and continues down the chain. */
export function recorder(): NetworkServiceElement & { calls: RecordedCall[]; ops(): string[] } {
  const calls: RecordedCall[] = [];
  return {
    calls,
    ops: () => calls.map((c) => `${c.op} ${c.request?.connection?.id ?? c.conn?.id ?? ''}`.trim()),
    request(ctx, req) {
      calls.push({ op: 'request', request: structuredClone(req), ctx });
      return next.server(ctx).request(ctx, req);
    },
    close(ctx, conn) {
      calls.push({ op: 'close', conn: structuredClone(conn), ctx });
      return next.server(ctx).close(ctx, conn);
    },
  };
}
