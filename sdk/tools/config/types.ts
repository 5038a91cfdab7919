// Field types for a binary's config schema. Each `t.x({ env, description, default?, ... })` returns a
// Field whose `parse` turns the raw env string into a typed value or throws an Error whose message says
// what is wrong (loadConfig adds the variable name and the value).
import { isIP } from 'node:net';
import { formatNsmUrl, parseNsmUrl } from './url.js';

export interface FieldMeta {
  /** The environment variable, `NSM_*`. */
  readonly env: string;
  /** One sentence for the README's env table. */
  readonly description: string;
  /** Raw default, parsed exactly like a value read from the environment. */
  readonly default?: string;
  /** Without a default: fail when the variable is unset. */
  readonly required?: boolean;
}

export interface Field<T> extends FieldMeta {
  parse(raw: string): T;
}

/** A field always has a value when it has a default or is required; otherwise it may be undefined. */
export type Valued<M, T> = M extends { default: string }
  ? T
  : M extends { required: true }
    ? T
    : T | undefined;

function field<const M extends FieldMeta, T>(meta: M, parse: (raw: string) => T): Field<Valued<M, T>> {
  const { env, description, default: def, required } = meta;
  return { env, description, default: def, required, parse: parse as (raw: string) => Valued<M, T> };
}

function items(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

const DURATION_UNITS_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};
const DURATION_PART = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;

/** Go-style durations ("750ms", "15s", "1m30s", "1.5h") in milliseconds; a bare "0" is zero. */
export function parseDuration(raw: string): number {
  const bad = new Error('not a duration (use e.g. 750ms, 15s, 1m, 1h)');
  if (raw === '0') return 0;
  let rest = raw;
  let total = 0;
  if (rest === '') throw bad;
  while (rest !== '') {
    const m = DURATION_PART.exec(rest);
    if (!m) throw bad;
    total += Number(m[1]) * DURATION_UNITS_MS[m[2]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

function parseInt10(raw: string, min?: number, max?: number): number {
  if (!/^[+-]?\d+$/.test(raw)) throw new Error('not an integer');
  const n = Number(raw);
  if (!Number.isSafeInteger(n)) throw new Error('integer out of range');
  if (min !== undefined && n < min) throw new Error(`must be at least ${min}`);
  if (max !== undefined && n > max) throw new Error(`must be at most ${max}`);
  return n;
}

const TRUE = new Set(['1', 't', 'true', 'yes', 'y', 'on']);
const FALSE = new Set(['0', 'f', 'false', 'no', 'n', 'off']);

function parseBool(raw: string): boolean {
  const v = raw.toLowerCase();
  if (TRUE.has(v)) return true;
  if (FALSE.has(v)) return false;
  throw new Error('not a boolean (use true or false)');
}

function parseUrl(raw: string, listen: boolean): string {
  const r = parseNsmUrl(raw, { listen });
  if (!r.ok) throw new Error(`not a valid URL: ${r.problem}`);
  return formatNsmUrl(r.url);
}

/** "k1=v1,k2=v2"; upstream's "k1:v1,k2:v2" is accepted too. */
export function parseLabels(raw: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items(raw)) {
    const eq = item.indexOf('=');
    const sep = eq >= 0 ? eq : item.indexOf(':');
    if (sep <= 0) throw new Error(`label "${item}" is not key=value`);
    out[item.slice(0, sep).trim()] = item.slice(sep + 1).trim();
  }
  return out;
}

function parseCidr(raw: string): string {
  const slash = raw.indexOf('/');
  const addr = slash < 0 ? raw : raw.slice(0, slash);
  const family = isIP(addr);
  if (slash < 0 || family === 0) throw new Error(`"${raw}" is not a CIDR (use e.g. 10.0.0.0/24)`);
  const bits = raw.slice(slash + 1);
  const max = family === 4 ? 32 : 128;
  if (!/^\d{1,3}$/.test(bits) || Number(bits) > max) throw new Error(`"${raw}" has a bad prefix length`);
  return raw;
}

export const t = {
  /** Any string, as given. */
  string: <const M extends FieldMeta>(m: M) => field(m, (raw) => raw),
  int: <const M extends FieldMeta & { min?: number; max?: number }>(m: M) =>
    field(m, (raw) => parseInt10(raw.trim(), m.min, m.max)),
  /** Milliseconds; `min` (ms) refuses shorter values. */
  duration: <const M extends FieldMeta & { min?: number }>(m: M) =>
    field(m, (raw) => {
      const ms = parseDuration(raw.trim());
      if (m.min !== undefined && ms < m.min) throw new Error(`must be at least ${m.min}ms`);
      return ms;
    }),
  bool: <const M extends FieldMeta>(m: M) => field(m, (raw) => parseBool(raw.trim())),
  /** unix:///path, tcp://host:port or host:port; returned in canonical form (`tcp://` added). */
  url: <const M extends FieldMeta & { listen?: boolean }>(m: M) =>
    field(m, (raw) => parseUrl(raw.trim(), m.listen === true)),
  /** Comma-separated URLs. */
  urlList: <const M extends FieldMeta & { listen?: boolean }>(m: M) =>
    field(m, (raw) => items(raw).map((u) => parseUrl(u, m.listen === true))),
  /** Comma-separated, trimmed, empty items dropped. */
  stringList: <const M extends FieldMeta>(m: M) => field(m, items),
  labels: <const M extends FieldMeta>(m: M) => field(m, parseLabels),
  cidrList: <const M extends FieldMeta>(m: M) => field(m, (raw) => items(raw).map(parseCidr)),
  ip: <const M extends FieldMeta>(m: M) =>
    field(m, (raw) => {
      const v = raw.trim();
      if (isIP(v) === 0) throw new Error('not an IP address');
      return v;
    }),
  /** One of `values`, compared case-insensitively; returns the spelling in `values`. */
  enumOf: <const V extends readonly string[], const M extends FieldMeta>(values: V, m: M) =>
    field(m, (raw): V[number] => {
      const hit = values.find((v) => v.toLowerCase() === raw.trim().toLowerCase());
      if (hit === undefined) throw new Error(`must be one of ${values.join(', ')}`);
      return hit;
    }),
};
