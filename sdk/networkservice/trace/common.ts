// One span per Request or Close at a hop, and the W3C traceparent that makes the next hop's span its
// child. Shared by the server (every daemon's chain) and the client (the first hop of a trace).
import type * as grpc from '@grpc/grpc-js';
import {
  context,
  type Context as OtelContext,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  type TextMapGetter,
  trace,
} from '@opentelemetry/api';
import type { Context } from '../../core/context.js';
import type { Connection } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import { incomingMetadata, withOutgoingMetadata } from '../../grpc/metadata.js';

export const TRACER_NAME = 'nsm';

/** Reads propagation headers from gRPC metadata (values are strings; binary -bin keys are not used). */
const metadataGetter: TextMapGetter<grpc.Metadata> = {
  keys: (md) => Object.keys(md.getMap()),
  get: (md, key) => {
    const v = md.get(key);
    return v.length === 0 ? undefined : v.map(String);
  },
};

/**
 * The parent of this hop's span: the caller's span named in the incoming gRPC metadata (a call from
 * another hop, or a root when it names none); for calls that started inside this process (refresh,
 * heal, timeout entering at begin) whatever span is active.
 */
function parentOf(ctx: Context): OtelContext {
  const md = incomingMetadata(ctx);
  return md ? propagation.extract(ROOT_CONTEXT, md, metadataGetter) : context.active();
}

export interface SpanInfo {
  op: 'Request' | 'Close';
  hop: string;
  kind: SpanKind;
  conn?: Connection;
}

function attributesOf(hop: string, conn: Connection | undefined) {
  return {
    'nsm.hop': hop,
    ...(conn?.id ? { 'nsm.connection.id': conn.id } : {}),
    ...(conn?.networkService ? { 'nsm.network_service': conn.networkService } : {}),
    ...(conn?.path ? { 'nsm.path.index': conn.path.index } : {}),
  };
}

/** Runs `fn` inside a span for this hop; `fn` gets the context that passes the span on to the next hop. */
export async function traced<T>(
  ctx: Context,
  info: SpanInfo,
  fn: (ctx: Context, span: Span) => Promise<T>,
): Promise<T> {
  const parent = info.kind === SpanKind.SERVER ? parentOf(ctx) : context.active();
  const span = trace
    .getTracer(TRACER_NAME)
    .startSpan(
      `NetworkService/${info.op}`,
      { kind: info.kind, attributes: attributesOf(info.hop, info.conn) },
      parent,
    );
  const active = trace.setSpan(parent, span);
  const headers: Record<string, string> = {};
  propagation.inject(active, headers);
  const down = withOutgoingMetadata(ctx, headers);
  try {
    return await context.with(active, () => fn(down, span));
  } catch (e) {
    span.setStatus({ code: SpanStatusCode.ERROR, message: getErrorMessage(e) });
    throw e;
  } finally {
    span.end();
  }
}

/** Once the hop answered: the id and path index it gave the connection. */
export function annotate(span: Span, hop: string, conn: Connection): void {
  span.setAttributes(attributesOf(hop, conn));
}
