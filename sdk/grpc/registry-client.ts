// Registry elements that forward to a remote registry over gRPC: nsmgr to the central registry,
// endpoints and forwarders to their nsmgr. Each is the last element of its chain (it does not call
// next). Calls take their deadline from ctx.deadline (unary calls and one-shot Finds default to
// CALL_TIMEOUT_MS; a watching Find has none unless the ctx has one); aborting ctx.signal cancels the
// call. A failed call throws an NsmError that keeps the remote status code.
//
// Calls go through a ClientPool (the daemon's, so it has one channel per target for everything it
// dials); a client created without one owns a private pool and closes it with itself.

import {
  type NetworkService,
  type NetworkServiceEndpoint,
  type NetworkServiceEndpointQuery,
  NetworkServiceEndpointRegistryService,
  type NetworkServiceEndpointResponse,
  type NetworkServiceQuery,
  NetworkServiceRegistryService,
  type NetworkServiceResponse,
} from '../../api/gen/registry/registry.js';
import type { Context } from '../core/context.js';
import type { RegistryElement } from '../core/types.js';
import { failedPrecondition } from '../errors/index.js';
import type { ClientPool, Method } from './client-pool.js';
import { DEFAULT_CALL_TIMEOUT_MS, ClientPool as Pool } from './client-pool.js';
import { truncate } from './status.js';

/** Budget of a unary call or one-shot Find when the context has no deadline. */
export const CALL_TIMEOUT_MS = DEFAULT_CALL_TIMEOUT_MS;

export interface RegistryClientOptions {
  /** The daemon's pool; its owner closes it. Without one the client has its own. */
  pool?: ClientPool;
}

export interface RegistryClient<T, Q, R> extends RegistryElement<T, Q, R> {
  readonly url: string;
  /** Closes the client (and its own pool, if it has one); later calls fail with FAILED_PRECONDITION. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}
export type NseRegistryClient = RegistryClient<
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse
>;
export type NsRegistryClient = RegistryClient<NetworkService, NetworkServiceQuery, NetworkServiceResponse>;

interface ServiceDef<T, Q, R> {
  register: Method<T, T>;
  find: Method<Q, R>;
  unregister: Method<T, unknown>;
}

interface Named {
  name: string;
}

class Remote<T extends Named, Q extends { watch: boolean }, R> implements RegistryClient<T, Q, R> {
  private readonly pool: ClientPool;
  private readonly ownPool: boolean;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly def: ServiceDef<T, Q, R>,
    private readonly kind: string,
    opts: RegistryClientOptions,
  ) {
    this.pool = opts.pool ?? new Pool();
    this.ownPool = opts.pool === undefined;
  }

  private check(what: string): void {
    if (this.closed) throw failedPrecondition(`${what}: registry client is closed`);
  }

  async register(ctx: Context, item: T): Promise<T> {
    const what = `failed to register ${this.kind} "${truncate(item.name, 256)}" at ${this.url}`;
    this.check(what);
    return this.pool.unary(ctx, this.url, this.def.register, item, what);
  }

  async unregister(ctx: Context, item: T): Promise<void> {
    const what = `failed to unregister ${this.kind} "${truncate(item.name, 256)}" at ${this.url}`;
    this.check(what);
    await this.pool.unary(ctx, this.url, this.def.unregister, item, what);
  }

  /** Resolves when the stream ends, or (for a watch) when ctx is aborted; rejects on error. */
  async find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    const what = `failed to find ${this.kind}s at ${this.url}`;
    this.check(what);
    const timeoutMs = query.watch ? undefined : CALL_TIMEOUT_MS;
    try {
      await this.pool.stream(ctx, this.url, this.def.find, query, what, sink, { timeoutMs });
    } catch (e) {
      // A watch ends when its caller stops it: that is its normal end, not a failure.
      if (query.watch && ctx.signal.aborted) return;
      throw e;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ownPool) await this.pool.close();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** A NetworkServiceEndpoint registry element that forwards every call to the registry at `url`. */
export function newNseRegistryClient(url: string, opts: RegistryClientOptions = {}): NseRegistryClient {
  return new Remote(url, NetworkServiceEndpointRegistryService, 'network service endpoint', opts);
}

/** A NetworkService registry element that forwards every call to the registry at `url`. */
export function newNsRegistryClient(url: string, opts: RegistryClientOptions = {}): NsRegistryClient {
  return new Remote(url, NetworkServiceRegistryService, 'network service', opts);
}
