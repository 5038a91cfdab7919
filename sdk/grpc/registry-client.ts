// Registry elements that forward to a remote registry over gRPC: nsmgr to the central registry,
// endpoints and forwarders to their nsmgr. Each is the last element of its chain (it does not call
// next). Calls take their deadline from ctx.deadline (unary calls and one-shot Finds default to
// CALL_TIMEOUT_MS; a watching Find has none unless the ctx has one); aborting ctx.signal cancels the
// call. A failed call throws an NsmError that keeps the remote status code.
//
// Clients are shared: one grpc.Client per target URL for every registry client created without an
// explicit `pool`, reference-counted, closed when the last registry client using it is closed.
import * as grpc from '@grpc/grpc-js';
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
import { failedPrecondition, NsmError } from '../errors/index.js';
import { grpcReconnectOptions } from '../tools/backoff/index.js';
import { fromServiceError, grpcTarget } from './status.js';

/** Budget of a unary call or one-shot Find when the context has no deadline. */
export const CALL_TIMEOUT_MS = 15_000;

/** Where a registry client gets its grpc.Client (the nsmgr's ClientPool fits). */
export interface GrpcClientSource {
  client(url: string): grpc.Client;
}

export interface RegistryClientOptions {
  /** Use this pool's clients instead of the shared ones; the pool's owner closes them. */
  pool?: GrpcClientSource;
}

export interface RegistryClient<T, Q, R> extends RegistryElement<T, Q, R> {
  readonly url: string;
  /** Releases the shared connection (if this was its last user); later calls throw. */
  close(): void;
  [Symbol.dispose](): void;
}
export type NseRegistryClient = RegistryClient<
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse
>;
export type NsRegistryClient = RegistryClient<NetworkService, NetworkServiceQuery, NetworkServiceResponse>;

// ---- the shared pool ----

interface Shared {
  client: grpc.Client;
  refs: number;
}
const shared = new Map<string, Shared>();

export const CHANNEL_OPTIONS: grpc.ClientOptions = grpcReconnectOptions();

function acquire(url: string): grpc.Client {
  let s = shared.get(url);
  if (!s) {
    s = {
      client: new grpc.Client(grpcTarget(url), grpc.credentials.createInsecure(), CHANNEL_OPTIONS),
      refs: 0,
    };
    shared.set(url, s);
  }
  s.refs++;
  return s.client;
}

function release(url: string): void {
  const s = shared.get(url);
  if (!s) return;
  if (--s.refs > 0) return;
  shared.delete(url);
  s.client.close();
}

/** How many shared connections are open (for tests and debugging). */
export function sharedClientCount(): number {
  return shared.size;
}

/** Closes every shared connection at once (process shutdown); clients using them fail afterwards. */
export function closeSharedClients(): void {
  for (const s of shared.values()) s.client.close();
  shared.clear();
}

// ---- calls ----

interface MethodDef<Req, Res> {
  path: string;
  requestSerialize(v: Req): Buffer;
  responseDeserialize(b: Buffer): Res;
}

interface ServiceDef<T, Q, R> {
  register: MethodDef<T, T>;
  find: MethodDef<Q, R>;
  unregister: MethodDef<T, unknown>;
}

interface Named {
  name: string;
}

function callOptions(ctx: Context, fallbackMs: number | undefined): grpc.CallOptions {
  const deadline = ctx.deadline ?? (fallbackMs === undefined ? undefined : Date.now() + fallbackMs);
  return deadline === undefined ? {} : { deadline: new Date(deadline) };
}

function cancelled(what: string, ctx: Context): NsmError {
  const reason = ctx.signal.reason instanceof Error ? `: ${ctx.signal.reason.message}` : '';
  return new NsmError(grpc.status.CANCELLED, `${what}: context cancelled${reason}`);
}

class Remote<T extends Named, Q extends { watch: boolean }, R> implements RegistryClient<T, Q, R> {
  private client?: grpc.Client;
  private closed = false;

  constructor(
    readonly url: string,
    private readonly def: ServiceDef<T, Q, R>,
    private readonly kind: string,
    private readonly opts: RegistryClientOptions,
  ) {}

  private grpcClient(what: string): grpc.Client {
    if (this.closed) throw failedPrecondition(`${what}: registry client is closed`);
    if (this.opts.pool) return this.opts.pool.client(this.url);
    this.client ??= acquire(this.url);
    return this.client;
  }

  private unary<Req, Res>(ctx: Context, m: MethodDef<Req, Res>, message: Req, what: string): Promise<Res> {
    return new Promise<Res>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(cancelled(what, ctx));
      const call = this.grpcClient(what).makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        message,
        new grpc.Metadata(),
        callOptions(ctx, CALL_TIMEOUT_MS),
        (err, res) => {
          ctx.signal.removeEventListener('abort', onAbort);
          if (err) reject(fromServiceError(err, what));
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  register(ctx: Context, item: T): Promise<T> {
    const what = `failed to register ${this.kind} "${item.name}" at ${this.url}`;
    return this.unary(ctx, this.def.register, item, what);
  }

  async unregister(ctx: Context, item: T): Promise<void> {
    const what = `failed to unregister ${this.kind} "${item.name}" at ${this.url}`;
    await this.unary(ctx, this.def.unregister, item, what);
  }

  /** Resolves when the stream ends, or (for a watch) when ctx is aborted; rejects on error. */
  find(ctx: Context, query: Q, sink: (r: R) => void): Promise<void> {
    const what = `failed to find ${this.kind}s at ${this.url}`;
    return new Promise<void>((resolve, reject) => {
      if (ctx.signal.aborted) return query.watch ? resolve() : reject(cancelled(what, ctx));
      const m = this.def.find;
      const call = this.grpcClient(what).makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        query,
        new grpc.Metadata(),
        callOptions(ctx, query.watch ? undefined : CALL_TIMEOUT_MS),
      );
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        ctx.signal.removeEventListener('abort', onAbort);
        if (err) reject(err);
        else resolve();
      };
      const onAbort = () => {
        call.cancel();
        settle(query.watch ? undefined : cancelled(what, ctx));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (r: R) => {
        if (settled) return;
        try {
          sink(r);
        } catch (e) {
          call.cancel();
          settle(e instanceof Error ? e : new Error(String(e)));
        }
      });
      call.on('error', (e: Error) => settle(fromServiceError(e, what)));
      // 'end' follows the last 'data'; a failed stream reports 'error' first.
      call.on('end', () => settle());
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.client) release(this.url);
    this.client = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
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
