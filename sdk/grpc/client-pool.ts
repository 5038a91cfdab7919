// The one gRPC client stack: one channel per target URL, created on first use and shared by every
// caller in the daemon (connect, the monitor relay, heal, the registry clients), like sdk's
// connect/clientconn. Every call takes its deadline and cancellation from the Context and fails
// through one mapping (status.ts `callError`): "<what>: <peer's details>", the peer's code, CANCELLED
// when the caller cancelled, DEADLINE_EXCEEDED when its deadline passed, and the caller's stack.
import * as grpc from '@grpc/grpc-js';
import {
  type ConnectionEvent,
  MonitorConnectionService,
  type MonitorScopeSelector,
  type PathSegment,
} from '../../api/gen/networkservice/connection.js';
import { NetworkServiceService } from '../../api/gen/networkservice/networkservice.js';
import { background, type Context } from '../core/context.js';
import type { Connection, NetworkServiceRequest } from '../core/types.js';
import { failedPrecondition, unavailable } from '../errors/index.js';
import { grpcReconnectOptions } from '../tools/backoff/index.js';
import { toMetadata } from '../tools/token/index.js';
import { closeInProcess, inProcessServer, monitorInProcess, requestInProcess } from './in-process.js';
import { outgoingMetadata } from './metadata.js';
import { callError, callerStack, grpcTarget } from './status.js';
import { channelCredentials, defaultSecurity, type TransportSecurity } from './transport-security.js';

/** Budget of a unary call (or a one-shot stream) whose context has no deadline. */
export const DEFAULT_CALL_TIMEOUT_MS = 15_000;

/**
 * Largest message a daemon takes. grpc-js's default, 4 MiB, is less than one MonitorConnections
 * INITIAL_STATE_TRANSFER of a busy hop: the monitor relay subscribes to the next hop with an empty
 * selector, and each connection weighs ~5-7 KiB with signed tokens (each carries its signer's
 * certificate), so a forwarder holding 1000 sends ~7 MB. Past the limit the relay's stream failed on
 * every reconnect and marked every connection through that hop DOWN. Bounded all the same.
 */
export const MAX_RECEIVE_MESSAGE_BYTES = 256 * 1024 * 1024;

export const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  // Our elements decide about retries (roundrobin, heal, refresh); grpc-js must not repeat a Request.
  'grpc.enable_retries': 0,
  'grpc.max_receive_message_length': MAX_RECEIVE_MESSAGE_BYTES,
  // Nothing reads channelz (grpc-js's per-call and per-socket bookkeeping).
  'grpc.enable_channelz': 0,
  // HTTP/2's 64 KiB receive window let a MonitorConnections event about a dead endpoint's ~60
  // connections (~400 KB) cross a hop only after several WINDOW_UPDATE round trips between two busy
  // event loops: 70-130 ms per hop while the clients waited for it. 4 MiB takes one in one go.
  'grpc-node.flow_control_window': 4 * 1024 * 1024,
  ...grpcReconnectOptions(),
};

/** The SNI name our TLS clients send (any fixed name: servers present their SVID whatever it is). */
const TLS_SERVER_NAME = 'nsm';

/** A method of a generated service definition. */
export interface Method<Req, Res> {
  path: string;
  requestSerialize(v: Req): Buffer;
  responseDeserialize(b: Buffer): Res;
}

export interface StreamOptions {
  /** Budget without a ctx deadline; undefined: none (a watch runs until ctx aborts). */
  timeoutMs?: number;
}

/** A monitor stream in progress. */
export interface MonitorStream {
  /** Stops the stream; `onEnd` is not called after this. */
  close(): Promise<void>;
}

function currentSegment(conn: Connection | undefined): PathSegment | undefined {
  return conn?.path?.pathSegments[conn.path.index];
}

function callOptions(ctx: Context, fallbackMs: number | undefined): grpc.CallOptions {
  const deadline = ctx.deadline ?? (fallbackMs === undefined ? undefined : Date.now() + fallbackMs);
  return deadline === undefined ? {} : { deadline: new Date(deadline) };
}

export interface ClientPoolOptions {
  /** mTLS or plaintext per URL (default: what the daemon's main set up, transport-security.ts). */
  security?: TransportSecurity;
  /** Largest message a call may receive, in bytes (-1: no limit; default MAX_RECEIVE_MESSAGE_BYTES). */
  maxReceiveMessageBytes?: number;
}

export class ClientPool implements AsyncDisposable {
  private readonly channels = new Map<string, grpc.Client>();
  private closed = false;
  private readonly security: TransportSecurity;
  private readonly options: grpc.ChannelOptions;

  constructor(opts: ClientPoolOptions = {}) {
    this.security = opts.security ?? defaultSecurity();
    this.options =
      opts.maxReceiveMessageBytes === undefined
        ? CHANNEL_OPTIONS
        : { ...CHANNEL_OPTIONS, 'grpc.max_receive_message_length': opts.maxReceiveMessageBytes };
  }

  /** How many channels are open (for tests and debugging). */
  get size(): number {
    return this.channels.size;
  }

  private channel(url: string, what: string): grpc.Client {
    if (this.closed) throw failedPrecondition(`${what}: the client pool is closed`);
    let c = this.channels.get(url);
    if (!c) {
      const creds = channelCredentials(url, this.security);
      // SVIDs name no host: TLS must not send an IP address as SNI (node warns); the peer is
      // checked by its SPIFFE ID instead (spiffe/credentials.ts).
      const options = creds._isSecure()
        ? { ...this.options, 'grpc.ssl_target_name_override': TLS_SERVER_NAME }
        : this.options;
      c = new grpc.Client(grpcTarget(url), creds, options);
      this.channels.set(url, c);
    }
    return c;
  }

  /** One unary call; `what` is the caller's "failed to <verb> <object> at <url>". */
  unary<Req, Res>(
    ctx: Context,
    url: string,
    m: Method<Req, Res>,
    message: Req,
    what: string,
    metadata: grpc.Metadata = new grpc.Metadata(),
  ): Promise<Res> {
    const stack = callerStack();
    return new Promise<Res>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(callError(undefined, what, ctx, stack));
      const call = this.channel(url, what).makeUnaryRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        message,
        outgoingMetadata(ctx, metadata), // the token (if any), then the headers the chain asked to pass on (trace's traceparent)
        callOptions(ctx, DEFAULT_CALL_TIMEOUT_MS),
        (err, res) => {
          ctx.signal.removeEventListener('abort', onAbort);
          if (err) reject(callError(err, what, ctx, stack));
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /**
   * A server stream: `onData` gets every message; resolves when the peer ends the stream, rejects
   * when it fails, when ctx aborts (CANCELLED / DEADLINE_EXCEEDED) or when `onData` throws.
   */
  stream<Req, Res>(
    ctx: Context,
    url: string,
    m: Method<Req, Res>,
    message: Req,
    what: string,
    onData: (r: Res) => void,
    opts: StreamOptions = {},
  ): Promise<void> {
    const stack = callerStack();
    return new Promise<void>((resolve, reject) => {
      if (ctx.signal.aborted) return reject(callError(undefined, what, ctx, stack));
      const call = this.channel(url, what).makeServerStreamRequest(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        message,
        outgoingMetadata(ctx), // headers the chain asked to pass on (trace's traceparent)
        callOptions(ctx, opts.timeoutMs),
      );
      let settled = false;
      const settle = (err?: unknown) => {
        if (settled) return;
        settled = true;
        ctx.signal.removeEventListener('abort', onAbort);
        if (err !== undefined) reject(err);
        else resolve();
      };
      const onAbort = () => {
        call.cancel();
        settle(callError(undefined, what, ctx, stack));
      };
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      call.on('data', (r: Res) => {
        if (settled) return;
        try {
          onData(r);
        } catch (e) {
          call.cancel();
          settle(e);
        }
      });
      call.on('error', (e: Error) => settle(callError(e, what, ctx, stack)));
      // 'end' follows the last 'data'; a failed stream reports 'error' first.
      call.on('end', () => settle());
    });
  }

  // Request and Close carry our segment's token and expiry as upstream's per-call metadata too:
  // upstream servers read them only from there (and warn on every call without them).
  request(ctx: Context, url: string, req: NetworkServiceRequest): Promise<Connection> {
    const md = toMetadata(currentSegment(req.connection));
    const what = `failed to request at ${url}`;
    const local = inProcessServer(url);
    if (local && !this.closed) {
      const deadline = ctx.deadline ?? Date.now() + DEFAULT_CALL_TIMEOUT_MS;
      return requestInProcess(local, ctx, deadline, outgoingMetadata(ctx, md), req, what, callerStack());
    }
    return this.unary(ctx, url, NetworkServiceService.request, req, what, md);
  }

  /** NetworkService.Close (the RPC); `close()` without arguments closes the pool. */
  async closeConnection(ctx: Context, url: string, conn: Connection): Promise<void> {
    const md = toMetadata(currentSegment(conn));
    const what = `failed to close at ${url}`;
    const local = inProcessServer(url);
    if (local && !this.closed) {
      const deadline = ctx.deadline ?? Date.now() + DEFAULT_CALL_TIMEOUT_MS;
      return closeInProcess(local, ctx, deadline, outgoingMetadata(ctx, md), conn, what, callerStack());
    }
    await this.unary(ctx, url, NetworkServiceService.close, conn, what, md);
  }

  /**
   * Opens MonitorConnections; `onEnd` runs once, with why the stream ended, unless it was closed.
   * `method` may swap the decoder (nsmctl's get decodes only what it prints).
   */
  monitor(
    url: string,
    selector: MonitorScopeSelector,
    onEvent: (ev: ConnectionEvent) => void,
    onEnd: (err: Error) => void,
    method: Method<MonitorScopeSelector, ConnectionEvent> = MonitorConnectionService.monitorConnections,
  ): MonitorStream {
    const what = `failed to monitor connections at ${url}`;
    const local = inProcessServer(url);
    if (local && !this.closed) {
      const stop = monitorInProcess(local, selector, method.responseDeserialize, onEvent, onEnd, what);
      return { close: async () => stop() };
    }
    const stop = new AbortController();
    const ctx: Context = { ...background(), signal: stop.signal };
    this.stream(ctx, url, method, selector, what, onEvent).then(
      () => stop.signal.aborted || onEnd(unavailable(`${what}: the stream ended`)),
      (e: Error) => stop.signal.aborted || onEnd(e),
    );
    return {
      close: async () => stop.abort(new Error('monitor stream closed')),
    };
  }

  /** Closes every channel; later calls fail with FAILED_PRECONDITION. */
  async close(): Promise<void> {
    this.closed = true;
    for (const c of this.channels.values()) c.close();
    this.channels.clear();
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
