// Serves a NetworkService chain and its ConnectionMonitor over gRPC. Errors become statuses in
// exactly one place (status.ts), so every element can simply throw.

import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  type ConnectionEvent,
  MonitorConnectionService,
  type MonitorScopeSelector,
} from '../../api/gen/networkservice/connection.js';
import { NetworkServiceService } from '../../api/gen/networkservice/networkservice.js';
import type { Context } from '../core/context.js';
import { background, withTimeout } from '../core/context.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../core/types.js';
import { invalidArgument, NsmError, unavailable } from '../errors/index.js';
import type { ConnectionMonitor, Visible } from '../networkservice/monitor/monitor.js';
import { encodeConnectionEvent } from '../networkservice/monitor/wire.js';
import { logger } from '../tools/log.js';
import { contextFromCall } from './context.js';
import { toStatus } from './status.js';
import { validateConnection } from './validate.js';

const log = logger('grpc');

const ABANDONED_CLOSE_TIMEOUT_MS = 15_000;

function closeAbandoned(chain: NetworkServiceServer, conn: Connection, base: Context): void {
  const { ctx, cancel } = withTimeout(
    { ...base, signal: new AbortController().signal },
    ABANDONED_CLOSE_TIMEOUT_MS,
  );
  chain
    .close(ctx, conn)
    .catch((e: unknown) =>
      log.warn({ err: e, id: conn.id }, 'failed to close a connection whose caller gave up'),
    )
    .finally(cancel);
}

/**
 * Whether this hop already holds the connection a Request is for: a refresh carries our own segment
 * after the caller's (updatepath put it there), and our monitor holds that id.
 */
function holdsAlready(monitor: ConnectionMonitor, req: NetworkServiceRequest): boolean {
  const path = req.connection?.path;
  const ours = path?.pathSegments[path.index + 1]?.id;
  return ours !== undefined && ours !== '' && monitor.get(ours) !== undefined;
}

/**
 * A Request as this hop serves it from any transport (gRPC here, in-process in in-process.ts): the
 * message checked, the chain run, and a new connection closed again when its caller gave up meanwhile.
 */
export async function serveRequest(
  chain: NetworkServiceServer,
  monitor: ConnectionMonitor,
  ctx: Context,
  req: NetworkServiceRequest,
  base: Context,
): Promise<Connection> {
  const established = holdsAlready(monitor, req);
  if (!req.connection) throw invalidArgument('request.connection is missing');
  // Refused here, at the first hop, not only at the forwarder's discover after two hops.
  if (!req.connection.networkService) {
    throw invalidArgument(
      'request.connection.network_service is empty: say which network service to connect to',
    );
  }
  validateConnection(req.connection, 'request.connection');
  req.mechanismPreferences.forEach((m, i) => {
    validateConnection({ ...req.connection!, mechanism: m }, `request.mechanism_preferences[${i}]`);
  });
  const conn = await chain.request(ctx, req);
  if (ctx.signal.aborted) {
    // The caller gave up (deadline, cancel) while we were setting up a new connection: it
    // will never use or refresh it, so do not leave it in the kernel until it expires. A
    // refresh of a connection we already held is different: the caller still uses it (a
    // hung nsmgr replays refreshes whose callers retried meanwhile), so it stays.
    if (!established) closeAbandoned(chain, conn, base);
    throw new NsmError(status.CANCELLED, 'the caller cancelled the request');
  }
  return conn;
}

/** A Close as this hop serves it from any transport. */
export async function serveClose(chain: NetworkServiceServer, ctx: Context, conn: Connection): Promise<void> {
  validateConnection(conn, 'connection');
  if (!conn.id) throw invalidArgument('connection.id is missing');
  await chain.close(ctx, conn);
}

export function addNetworkServiceServices(
  server: grpc.Server,
  chain: NetworkServiceServer,
  monitor: ConnectionMonitor,
  base: Context = background(),
  /** Which connections a MonitorConnections caller may see (default: all); see connectionowner. */
  visibleTo: (ctx: Context) => Promise<Visible> = async () => () => true,
): void {
  server.addService(NetworkServiceService, {
    request(
      call: grpc.ServerUnaryCall<NetworkServiceRequest, Connection>,
      callback: grpc.sendUnaryData<Connection>,
    ) {
      const { ctx, done } = contextFromCall(call, base);
      serveRequest(chain, monitor, ctx, call.request, base)
        .then(
          (conn) => callback(null, conn),
          (e: unknown) => {
            log.debug({ err: e, id: call.request.connection?.id }, 'Request failed');
            callback(toStatus(e));
          },
        )
        .finally(done);
    },
    close(call: grpc.ServerUnaryCall<Connection, object>, callback: grpc.sendUnaryData<object>) {
      const { ctx, done } = contextFromCall(call, base);
      serveClose(chain, ctx, call.request)
        .then(
          () => callback(null, {}),
          (e: unknown) => callback(toStatus(e)),
        )
        .finally(done);
    },
  });
  // The same service, with each connection's bytes encoded once for every stream (monitor/wire.ts).
  const monitorService = {
    ...MonitorConnectionService,
    monitorConnections: {
      ...MonitorConnectionService.monitorConnections,
      responseSerialize: encodeConnectionEvent,
    },
  };
  server.addService(monitorService, {
    monitorConnections(call: grpc.ServerWritableStream<MonitorScopeSelector, ConnectionEvent>) {
      let unsubscribe = () => {};
      let stopped = false;
      const { ctx, done } = contextFromCall(call, base);
      const stop = () => {
        stopped = true;
        unsubscribe();
        done();
        base.signal.removeEventListener('abort', shuttingDown);
      };
      const fail = (e: unknown) => {
        stop();
        if (!call.cancelled && call.writable) call.emit('error', toStatus(e));
      };
      // The server is closing: end the stream now (watchers learn to look elsewhere) instead of
      // holding the shutdown for its whole grace period.
      const shuttingDown = () => fail(unavailable('the server is shutting down'));
      if (base.signal.aborted) return shuttingDown();
      base.signal.addEventListener('abort', shuttingDown, { once: true });
      call.on('cancelled', stop);
      call.on('close', stop);
      call.on('error', stop);
      // Who is asking decides what it sees (the first call on a unix connection looks the peer up).
      visibleTo(ctx).then((visible) => {
        if (stopped) return;
        unsubscribe = monitor.subscribe(
          call.request,
          (ev) => {
            if (!call.cancelled && call.writable) call.write(ev);
          },
          visible,
        );
      }, fail);
    },
  });
}
