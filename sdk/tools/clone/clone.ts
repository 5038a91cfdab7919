// A deep copy of plain data (protobuf messages as ts-proto generates them: plain objects, arrays,
// Dates, strings, numbers) that shares the strings instead of copying them.
//
// Why not structuredClone: it serialises, so every string is copied. A connection carries a signed
// token of about 1 KiB per path segment, and the chain keeps several copies of a connection (begin's
// last connection, the monitor's, heal's): with structuredClone each copy had its own tokens, about
// ten 1 KiB strings per connection per daemon, 10 MB at 1000 connections. Strings are immutable, so
// sharing them is safe; the objects and arrays around them are new, so a copy can be changed (or
// frozen) without touching the original.
/** Deep copy of `v`: new objects, arrays and Dates, the same strings; anything else as structuredClone. */
export function cloneShared<T>(v: T): T {
  return copy(v) as T;
}

function copy(v: unknown): unknown {
  if (typeof v !== 'object' || v === null) return v; // primitives, strings included, are shared
  if (Array.isArray(v)) return v.map(copy);
  if (v instanceof Date) return new Date(v.getTime());
  if (ArrayBuffer.isView(v)) return structuredClone(v); // bytes fields: mutable, so copied
  const proto = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return structuredClone(v); // Map, Set, …: their own semantics
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v)) out[k] = copy(x);
  return out;
}
