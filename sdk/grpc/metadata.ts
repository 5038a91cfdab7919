// gRPC metadata carried in the Context: what came in with the call being served (contextFromCall
// puts it there) and what the calls this hop makes should send on (ClientPool reads it). Elements
// use it to pass headers hop to hop without knowing gRPC, e.g. trace's W3C `traceparent`.
import * as grpc from '@grpc/grpc-js';
import { type Context, value, withValue } from '../core/context.js';

const INCOMING_KEY = Symbol('grpc-incoming-metadata');
const OUTGOING_KEY = Symbol('grpc-outgoing-metadata');

export function withIncomingMetadata(ctx: Context, md: grpc.Metadata): Context {
  return withValue(ctx, INCOMING_KEY, md);
}

/** The metadata of the call this context serves, if it came over gRPC. */
export function incomingMetadata(ctx: Context): grpc.Metadata | undefined {
  return value<grpc.Metadata>(ctx, INCOMING_KEY);
}

/** A context whose outgoing calls also send `entries` (added to those already set). */
export function withOutgoingMetadata(ctx: Context, entries: Readonly<Record<string, string>>): Context {
  const before = value<Readonly<Record<string, string>>>(ctx, OUTGOING_KEY);
  return withValue(ctx, OUTGOING_KEY, { ...before, ...entries });
}

/** The metadata an outgoing call made under this context sends. */
export function outgoingMetadata(ctx: Context, base?: grpc.Metadata): grpc.Metadata {
  const md = base?.clone() ?? new grpc.Metadata();
  const entries = value<Readonly<Record<string, string>>>(ctx, OUTGOING_KEY);
  if (entries) for (const [k, v] of Object.entries(entries)) md.set(k, v);
  return md;
}
