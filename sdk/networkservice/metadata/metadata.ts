// Typed access to the per-connection maps that the metadata element puts in the context.
import { type Context, value, withValue } from '../../core/context.js';

const METADATA_KEY = Symbol('metadata');

type Halves = { server: Map<symbol, unknown>; client: Map<symbol, unknown> };

export function withMetadata(ctx: Context, halves: Halves): Context {
  return withValue(ctx, METADATA_KEY, halves);
}

/** The per-connection map of this side; throws if no metadata element precedes the caller. */
export function map(ctx: Context, isClient: boolean): Map<symbol, unknown> {
  const halves = value<Halves>(ctx, METADATA_KEY);
  if (!halves) throw new Error('metadata: no metadata element before this one in the chain');
  return isClient ? halves.client : halves.server;
}

export function store<T>(ctx: Context, isClient: boolean, key: symbol, v: T): void {
  map(ctx, isClient).set(key, v);
}

export function load<T>(ctx: Context, isClient: boolean, key: symbol): T | undefined {
  return map(ctx, isClient).get(key) as T | undefined;
}

export function loadAndDelete<T>(ctx: Context, isClient: boolean, key: symbol): T | undefined {
  const m = map(ctx, isClient);
  const v = m.get(key) as T | undefined;
  m.delete(key);
  return v;
}
