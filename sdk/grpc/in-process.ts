// In-process transport: a NetworkService server of this process, registered under its URL, is
// reached by this process's ClientPools without gRPC. The nodeagent runs the nsmgr and the forwarder
// in one process this way: each crossing between them (HTTP/2 framing, protobuf both ways, a turn
// of each event loop) was ~2 ms of a ~15 ms local setup.
//
// The callee sees what a call over its unix socket would give it: its own copy of the message (the
// same bytes as on the wire, decoded), the caller's token metadata and headers, the caller's
// deadline (or the pool's default) and cancellation, the server's checks (serveRequest/serveClose),
// and errors as the caller's status. Its peer is what a call from this process over the server's
// unix socket would show: that socket, this process at the other end. So allowpeer judges this
// process as it would over the socket, and connectionowner gives the connections the owner a
// socket caller has (the forwarder's: the socket; nsmctl on that socket still sees them). Only a
// server that chose to (serveInProcess) is reached this way, and only from inside its own process.
import type * as grpc from '@grpc/grpc-js';
import { status } from '@grpc/grpc-js';
import {
  Connection as ConnectionCodec,
  type ConnectionEvent,
  type MonitorScopeSelector,
} from '../../api/gen/networkservice/connection.js';
import { NetworkServiceRequest as RequestCodec } from '../../api/gen/networkservice/networkservice.js';
import { type Context, followParent } from '../core/context.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../core/types.js';
import { NsmError, unavailable } from '../errors/index.js';
import type { ConnectionMonitor, Visible } from '../networkservice/monitor/monitor.js';
import { encodeConnectionEvent } from '../networkservice/monitor/wire.js';
import { fromMetadata, withPeerToken } from '../tools/token/index.js';
import { type UnixPeer, withPeer } from '../tools/unixpeer/index.js';
import { withIncomingMetadata } from './metadata.js';
import { serveClose, serveRequest } from './networkservice-server.js';
import { type CallerStack, callError, toStatus } from './status.js';

export interface InProcessServer {
  readonly chain: NetworkServiceServer;
  readonly monitor: ConnectionMonitor;
  /** Which connections a MonitorConnections caller may see (connectionowner). */
  visibleTo(ctx: Context): Promise<Visible>;
  /** What every call derives from; aborted when the server closes. */
  readonly base: Context;
}

interface Served extends InProcessServer {
  /** The peer each call shows: the server's unix socket, this process at the other end. */
  readonly peer: UnixPeer;
}

const servers = new Map<string, Served>();

/** Serves `server` to this process's callers of `url` (a unix URL it listens on); returns what stops it. */
export function serveInProcess(url: string, server: InProcessServer): () => void {
  if (!url.startsWith('unix://')) throw new Error(`in-process: ${url} is not a unix URL`);
  if (servers.has(url)) throw new Error(`in-process: ${url} is served already`);
  const served: Served = {
    ...server,
    peer: { transport: 'unix', path: url.slice('unix://'.length), pids: async () => [process.pid] },
  };
  servers.set(url, served);
  return () => {
    if (servers.get(url) === served) servers.delete(url);
  };
}

export function inProcessServer(url: string): Served | undefined {
  return servers.get(url);
}

/**
 * Runs `invoke` as the callee of a unary call: its context carries the caller's metadata and is
 * aborted when the caller cancels, the deadline passes or the server closes; the caller gets the
 * callee's answer, or the error a gRPC call would have given it.
 */
function unary<T>(
  server: Served,
  ctx: Context,
  deadline: number,
  metadata: grpc.Metadata,
  what: string,
  stack: CallerStack,
  invoke: (callee: Context) => Promise<T>,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (ctx.signal.aborted) return reject(callError(undefined, what, ctx, stack));
    const followed = followParent(server.base); // the server closing aborts the callee too
    let settled = false;
    const settle = (err: unknown, value?: T) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ctx.signal.removeEventListener('abort', onCallerAbort);
      followed.unlink();
      if (err === undefined) resolve(value as T);
      else reject(callError(err, what, ctx, stack));
    };
    const onCallerAbort = () => {
      followed.abort(new NsmError(status.CANCELLED, 'the call was cancelled by the caller'));
      settle(null);
    };
    const timer = setTimeout(() => {
      const err = { code: status.DEADLINE_EXCEEDED, details: 'Deadline exceeded' };
      followed.abort(new NsmError(err.code, 'the deadline passed'));
      settle(err);
    }, deadline - Date.now());
    ctx.signal.addEventListener('abort', onCallerAbort, { once: true });
    const deadlines = [deadline, server.base.deadline].filter((d): d is number => d !== undefined);
    const callee = withIncomingMetadata(
      withPeerToken(
        withPeer({ ...followed.ctx, deadline: Math.min(...deadlines) }, server.peer),
        fromMetadata(metadata),
      ),
      metadata,
    );
    invoke(callee).then(
      (v) => settle(undefined, v),
      (e: unknown) => settle(toStatus(e)),
    );
  });
}

export function requestInProcess(
  server: Served,
  ctx: Context,
  deadline: number,
  metadata: grpc.Metadata,
  req: NetworkServiceRequest,
  what: string,
  stack: CallerStack,
): Promise<Connection> {
  const copy = RequestCodec.decode(RequestCodec.encode(req).finish());
  return unary(server, ctx, deadline, metadata, what, stack, async (callee) => {
    const conn = await serveRequest(server.chain, server.monitor, callee, copy, server.base);
    return ConnectionCodec.decode(ConnectionCodec.encode(conn).finish());
  });
}

export function closeInProcess(
  server: Served,
  ctx: Context,
  deadline: number,
  metadata: grpc.Metadata,
  conn: Connection,
  what: string,
  stack: CallerStack,
): Promise<void> {
  const copy = ConnectionCodec.decode(ConnectionCodec.encode(conn).finish());
  return unary(server, ctx, deadline, metadata, what, stack, (callee) =>
    serveClose(server.chain, callee, copy),
  );
}

/**
 * MonitorConnections in process: `onEvent` gets each event decoded from the bytes the gRPC server
 * would send, in order, each in a later turn of the event loop (as from a socket: never inside
 * the publisher's own call); `onEnd` once, when the server closes or cannot tell the caller.
 */
export function monitorInProcess(
  server: Served,
  selector: MonitorScopeSelector,
  decode: (b: Buffer) => ConnectionEvent,
  onEvent: (ev: ConnectionEvent) => void,
  onEnd: (err: Error) => void,
  what: string,
): () => void {
  let stopped = false;
  let unsubscribe = () => {};
  const queue: Buffer[] = [];
  const drain = () => {
    try {
      while (!stopped && queue.length > 0) onEvent(decode(queue.shift()!));
    } catch (e) {
      end(e as Error); // as a gRPC stream whose onData throws: cancelled
    }
  };
  const end = (err: Error) => {
    if (stopped) return;
    stop();
    onEnd(err);
  };
  const shuttingDown = () => end(unavailable(`${what}: the server is shutting down`));
  const stop = () => {
    stopped = true;
    unsubscribe();
    server.base.signal.removeEventListener('abort', shuttingDown);
  };
  if (server.base.signal.aborted) {
    setImmediate(shuttingDown);
    return stop;
  }
  server.base.signal.addEventListener('abort', shuttingDown, { once: true });
  server.visibleTo(withPeer(server.base, server.peer)).then(
    (visible) => {
      if (stopped) return;
      unsubscribe = server.monitor.subscribe(
        selector,
        (ev) => {
          if (queue.push(encodeConnectionEvent(ev)) === 1) setImmediate(drain);
        },
        visible,
      );
    },
    (e: unknown) => end(callError(toStatus(e), what, undefined, '')),
  );
  return stop;
}
