// trace gives each Request and Close at this hop an OpenTelemetry span (kind SERVER), child of the
// caller's span named by the W3C `traceparent` in the gRPC metadata, and passes its own on to the next
// hop the same way; kernel operations below run inside it and become its children (sdk/kernel
// instrument.ts). It sits right after begin in the endpoint prefix: the span covers the hop's work
// for this event, and the Closes that expiry sends through begin get spans too.
// With tracing off (no OTLP endpoint configured) it only passes the call on.
import { SpanKind } from '@opentelemetry/api';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { tracingEnabled } from '../../tools/tracing/setup.js';
import { annotate, traced } from './common.js';

class TraceServer implements NetworkServiceServer {
  constructor(private readonly hop: string) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (!tracingEnabled()) return next.server(ctx).request(ctx, req);
    return traced(
      ctx,
      { op: 'Request', hop: this.hop, kind: SpanKind.SERVER, conn: req.connection },
      async (c, span) => {
        const conn = await next.server(c).request(c, req);
        annotate(span, this.hop, conn);
        return conn;
      },
    );
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    if (!tracingEnabled()) return next.server(ctx).close(ctx, conn);
    return traced(ctx, { op: 'Close', hop: this.hop, kind: SpanKind.SERVER, conn }, (c) =>
      next.server(c).close(c, conn),
    );
  }
}

export function newServer(opts: { name: string }): NetworkServiceServer {
  if (!opts?.name) throw new Error('trace.newServer: a hop name is required (attribute nsm.hop)');
  return new TraceServer(opts.name);
}
