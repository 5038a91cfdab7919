// The two shapes every chain element has. Server and client chains use the same shape, so
// client elements and server elements compose without adapters.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import type { NetworkServiceRequest } from '../../api/gen/networkservice/networkservice.js';
import type {
  NetworkService,
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
  NetworkServiceQuery,
  NetworkServiceResponse,
} from '../../api/gen/registry/registry.js';
import type { Context } from './context.js';

export type { Connection, NetworkServiceRequest };

/** A NetworkService chain element. `close` always forwards down the chain. */
export interface NetworkServiceElement {
  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection>;
  close(ctx: Context, conn: Connection): Promise<void>;
}
export type NetworkServiceServer = NetworkServiceElement;
export type NetworkServiceClient = NetworkServiceElement;

/**
 * A stream of Find results. `find` resolves once the initial results are delivered to `onItem`;
 * with `watch`, `onItem` keeps being called until `ctx.signal` aborts.
 */
export type FindSink<T> = (item: T) => void;

/** A registry chain element, for either registry (services or endpoints). */
export interface RegistryElement<T, Q, R> {
  register(ctx: Context, item: T): Promise<T>;
  /** Delivers matches to `sink`; with `query.watch` it keeps delivering until ctx is aborted, then resolves. */
  find(ctx: Context, query: Q, sink: FindSink<R>): Promise<void>;
  unregister(ctx: Context, item: T): Promise<void>;
}

export type NseRegistry = RegistryElement<
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse
>;
export type NsRegistry = RegistryElement<NetworkService, NetworkServiceQuery, NetworkServiceResponse>;
