// Serves a NetworkService registry chain and a NetworkServiceEndpoint registry chain over gRPC
// (`/registry.NetworkServiceRegistry/*`, `/registry.NetworkServiceEndpointRegistry/*`).
// Register/Unregister are unary; Find streams: the initial matches, then, with `watch`, every change
// until the caller cancels (the chain's ctx is aborted then) or `base.signal` aborts (server shutdown:
// the stream ends with UNAVAILABLE so watchers know to find again elsewhere or later). Errors become
// statuses in one place (status.ts `toStatus`), so elements simply throw.
import * as grpc from '@grpc/grpc-js';
import {
  NetworkServiceEndpointRegistryService,
  NetworkServiceRegistryService,
} from '../../api/gen/registry/registry.js';
import { background, type Context } from '../core/context.js';
import type { NseRegistry, NsRegistry, RegistryElement } from '../core/types.js';
import { getErrorCode } from '../errors/index.js';
import { logger } from '../tools/log.js';
import { contextFromCall } from './context.js';
import { toStatus } from './status.js';

const log = logger('grpc');

export interface RegistryChains {
  ns: NsRegistry;
  nse: NseRegistry;
}

function logFailure(method: string, e: unknown): void {
  const code = getErrorCode(e);
  const fields = { method, code: grpc.status[code], err: e };
  if (code === grpc.status.UNKNOWN || code === grpc.status.INTERNAL) log.warn(fields, 'registry call failed');
  else log.debug(fields, 'registry call failed');
}

function handlers<T, Q, R>(service: string, chain: RegistryElement<T, Q, R>, base: Context) {
  return {
    register(call: grpc.ServerUnaryCall<T, T>, callback: grpc.sendUnaryData<T>) {
      const { ctx, done } = contextFromCall(call, base);
      Promise.resolve()
        .then(() => chain.register(ctx, call.request))
        .then(
          (resp) => callback(null, resp),
          (e: unknown) => {
            logFailure(`${service}/Register`, e);
            callback(toStatus(e));
          },
        )
        .finally(done);
    },
    unregister(call: grpc.ServerUnaryCall<T, object>, callback: grpc.sendUnaryData<object>) {
      const { ctx, done } = contextFromCall(call, base);
      Promise.resolve()
        .then(() => chain.unregister(ctx, call.request))
        .then(
          () => callback(null, {}),
          (e: unknown) => {
            logFailure(`${service}/Unregister`, e);
            callback(toStatus(e));
          },
        )
        .finally(done);
    },
    find(call: grpc.ServerWritableStream<Q, R>) {
      const { ctx, done } = contextFromCall(call, base);
      const sink = (r: R) => {
        if (!ctx.signal.aborted && call.writable) call.write(r);
      };
      Promise.resolve()
        .then(() => chain.find(ctx, call.request, sink))
        .then(
          () => {
            if (call.cancelled || !call.writable) return;
            if (base.signal.aborted) {
              call.emit('error', {
                code: grpc.status.UNAVAILABLE,
                details: 'registry server is shutting down',
              });
            } else {
              call.end();
            }
          },
          (e: unknown) => {
            logFailure(`${service}/Find`, e);
            if (!call.cancelled && call.writable) call.emit('error', toStatus(e));
          },
        )
        .finally(done);
    },
  };
}

/** Adds both registry services to `server`; `base` supplies values (logger, clock) and shutdown. */
export function addRegistryServices(
  server: grpc.Server,
  chains: RegistryChains,
  base: Context = background(),
): void {
  server.addService(NetworkServiceRegistryService, handlers('NetworkServiceRegistry', chains.ns, base));
  server.addService(
    NetworkServiceEndpointRegistryService,
    handlers('NetworkServiceEndpointRegistry', chains.nse, base),
  );
}
