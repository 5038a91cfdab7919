// One gRPC client per next-hop URL, created on first use and reused by every connection to that
// hop (sdk connect/clientconn). Calls take their deadline and cancellation from the Context.
import * as grpc from '@grpc/grpc-js';
import {
  type ConnectionEvent,
  MonitorConnectionService,
  type MonitorScopeSelector,
} from '../../api/gen/networkservice/connection.js';
import { NetworkServiceService } from '../../api/gen/networkservice/networkservice.js';
import type { Context } from '../core/context.js';
import type { Connection, NetworkServiceRequest } from '../core/types.js';
import { grpcReconnectOptions } from '../tools/backoff/index.js';
import { fromServiceError, grpcTarget } from './status.js';

const DEFAULT_CALL_TIMEOUT_MS = 15_000;

export interface MonitorStream {
  /** Stops the stream; `onEnd` is not called after this. */
  cancel(): void;
}

export class ClientPool {
  private readonly clients = new Map<string, grpc.Client>();
  private closed = false;

  client(url: string): grpc.Client {
    if (this.closed) throw new Error('client pool is closed');
    let c = this.clients.get(url);
    if (!c) {
      c = new grpc.Client(grpcTarget(url), grpc.credentials.createInsecure(), {
        'grpc.enable_retries': 0,
        ...grpcReconnectOptions(),
      });
      this.clients.set(url, c);
    }
    return c;
  }

  request(ctx: Context, url: string, req: NetworkServiceRequest): Promise<Connection> {
    const def = NetworkServiceService.request;
    return this.unary(ctx, url, def.path, def.requestSerialize, def.responseDeserialize, req, 'request');
  }

  async close(ctx: Context, url: string, conn: Connection): Promise<void> {
    const def = NetworkServiceService.close;
    await this.unary(ctx, url, def.path, def.requestSerialize, def.responseDeserialize, conn, 'close');
  }

  /** Opens MonitorConnections; onEnd runs once, with the error unless the stream was cancelled. */
  monitor(
    url: string,
    selector: MonitorScopeSelector,
    onEvent: (ev: ConnectionEvent) => void,
    onEnd: (err?: Error) => void,
  ): MonitorStream {
    const def = MonitorConnectionService.monitorConnections;
    const call = this.client(url).makeServerStreamRequest(
      def.path,
      def.requestSerialize,
      def.responseDeserialize,
      selector,
    );
    let ended = false;
    let cancelled = false;
    const end = (err?: Error) => {
      if (ended || cancelled) return;
      ended = true;
      onEnd(err);
    };
    call.on('data', onEvent);
    call.on('error', (e: Error) => end(fromServiceError(e, `failed to monitor connections at ${url}`)));
    call.on('end', () => end(new Error(`monitor stream from ${url} ended`)));
    return {
      cancel: () => {
        cancelled = true;
        call.cancel();
      },
    };
  }

  private unary<Req, Res>(
    ctx: Context,
    url: string,
    path: string,
    serialize: (v: Req) => Buffer,
    deserialize: (b: Buffer) => Res,
    message: Req,
    what: string,
  ): Promise<Res> {
    const deadline = ctx.deadline ?? Date.now() + DEFAULT_CALL_TIMEOUT_MS;
    return new Promise<Res>((resolve, reject) => {
      if (ctx.signal.aborted) {
        reject(new Error(`failed to ${what} at ${url}: context cancelled`));
        return;
      }
      const call = this.client(url).makeUnaryRequest(
        path,
        serialize,
        deserialize,
        message,
        new grpc.Metadata(),
        { deadline },
        (err, res) => {
          ctx.signal.removeEventListener('abort', onAbort);
          if (err) reject(fromServiceError(err, `failed to ${what} at ${url}`));
          else resolve(res as Res);
        },
      );
      const onAbort = () => call.cancel();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Closes every client; later use throws. */
  dispose(): void {
    this.closed = true;
    for (const c of this.clients.values()) c.close();
    this.clients.clear();
  }
}
