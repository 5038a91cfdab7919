// A gRPC server bound to our URL forms, for every daemon: services are added by `register`, which gets
// the context every call derives from. `close()` first aborts that context, so in-flight calls are
// cancelled (their chains see ctx.signal abort) and watching streams end, then stops the server,
// forcibly after SHUTDOWN_GRACE_MS.
import * as grpc from '@grpc/grpc-js';
import { background, type Context, withCancel } from '../core/context.js';
import { unavailable } from '../errors/index.js';
import type { Closable } from '../tools/daemon.js';
import { closeOnce } from '../tools/daemon.js';
import { closeUnixListeners, listen, shutdown } from './listen.js';
import type { TransportSecurity } from './transport-security.js';

/** How long open calls get to finish on close before the server is stopped hard. */
export const SHUTDOWN_GRACE_MS = 2_000;
/** Largest message accepted (the default, 4 MiB, said out loud). */
const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;
/**
 * Most calls one connection may have open at once (grpc-js has no limit by default). A peer past it
 * waits (HTTP/2 queues its streams) instead of making us run unbounded work for it. Generous: one
 * nsmgr's channel to the registry carries a long watch per local endpoint.
 */
export const MAX_CONCURRENT_STREAMS_PER_CONNECTION = 4096;

export interface ServeOptions {
  /** unix:///path or tcp://host:port (port 0: any free port). */
  listenOn: readonly string[];
  /** Adds the services; `ctx` is aborted when the server closes. */
  register(server: grpc.Server, ctx: Context): void;
  /** Values (logger, clock) for every call; aborting it closes nothing, it only cancels calls. */
  base?: Context;
  /** mTLS or plaintext (default: what the daemon's main set up, transport-security.ts). */
  security?: TransportSecurity;
}

export interface Served extends Closable, AsyncDisposable {
  /** The URLs bound, in listenOn order (tcp port 0 replaced by the real port). */
  readonly urls: string[];
}

export async function serve(opts: ServeOptions): Promise<Served> {
  const { ctx, cancel } = withCancel(opts.base ?? background());
  const server = new grpc.Server({
    'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
    'grpc.max_concurrent_streams': MAX_CONCURRENT_STREAMS_PER_CONNECTION,
    // Nothing reads channelz (grpc-js's per-call and per-socket bookkeeping): ~1% of a daemon's CPU.
    'grpc.enable_channelz': 0,
  });
  opts.register(server, ctx);
  let urls: string[];
  try {
    urls = await listen(server, opts.listenOn, opts.security);
  } catch (e) {
    cancel();
    closeUnixListeners(server);
    server.forceShutdown();
    throw e;
  }
  const close = closeOnce(async () => {
    cancel(unavailable('the server is shutting down'));
    await shutdown(server, SHUTDOWN_GRACE_MS);
  });
  return { urls, close, [Symbol.asyncDispose]: close };
}
