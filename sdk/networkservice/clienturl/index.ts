// The URL of the next hop travels in the context: discovery elements set it, connect reads it.
import { type Context, value, withValue } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceClient } from '../../core/types.js';

const URL_KEY = Symbol('client-url');

export function withClientURL(ctx: Context, url: string): Context {
  return withValue(ctx, URL_KEY, url);
}

export function clientURL(ctx: Context): string | undefined {
  return value<string>(ctx, URL_KEY);
}

/** A client element that sends every request to a fixed URL (the client's nsmgr). */
export function newClient(url: string) {
  return {
    request: (ctx: Context, req: Parameters<NetworkServiceClient['request']>[1]) =>
      next.client(ctx).request(withClientURL(ctx, url), req),
    close: (ctx: Context, conn: Parameters<NetworkServiceClient['close']>[1]) =>
      next.client(ctx).close(withClientURL(ctx, url), conn),
  } satisfies NetworkServiceClient;
}
