// trace on the client: the first span of a connection's trace (kind CLIENT, or a child of whatever
// span the calling program has active), passed to the nsmgr as W3C `traceparent` in the gRPC
// metadata. Right after begin in the client chain,
// so refreshes and heals, which re-enter there, get spans of their own too.
import { SpanKind } from '@opentelemetry/api';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { tracingEnabled } from '../../tools/tracing/setup.js';
import { annotate, traced } from './common.js';

class TraceClient implements NetworkServiceClient {
  constructor(private readonly hop: string) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (!tracingEnabled()) return next.client(ctx).request(ctx, req);
    return traced(
      ctx,
      { op: 'Request', hop: this.hop, kind: SpanKind.CLIENT, conn: req.connection },
      async (c, span) => {
        const conn = await next.client(c).request(c, req);
        annotate(span, this.hop, conn);
        return conn;
      },
    );
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    if (!tracingEnabled()) return next.client(ctx).close(ctx, conn);
    return traced(ctx, { op: 'Close', hop: this.hop, kind: SpanKind.CLIENT, conn }, (c) =>
      next.client(c).close(c, conn),
    );
  }
}

export function newClient(opts: { name: string }): NetworkServiceClient {
  if (!opts?.name) throw new Error('trace.newClient: a client name is required (attribute nsm.hop)');
  return new TraceClient(opts.name);
}
