// Upstream's per-call token metadata (sdk pkg/tools/token): every NetworkService call carries the
// caller's token for its own path segment and that token's expiry as gRPC metadata, because
// upstream clients no longer write them into their segment. A server copies them into the previous
// segment on every Request and Close (refresh included), so the expiry that drives its timeout is
// the one the caller just renewed; our clients send theirs the same way so upstream servers see it.
import * as grpc from '@grpc/grpc-js';
import type { PathSegment } from '../../../api/gen/networkservice/connection.js';
import { type Context, value, withValue } from '../../core/context.js';
import { invalidArgument, type NsmError } from '../../errors/index.js';

/** The caller's token (upstream `tokenKey`). */
export const TOKEN_KEY = 'nsm-client-token';
/** Its expiry, RFC 3339 with up to nanoseconds (Go's time.RFC3339Nano). */
export const EXPIRES_KEY = 'nsm-client-token-expires';

export interface PeerToken {
  token: string;
  /** Epoch milliseconds. */
  expiresMs: number;
}

/** What the caller sent: nothing (an old or plain client), a token, or malformed metadata. */
export type PeerTokenResult = { ok: true; value: PeerToken | undefined } | { ok: false; error: NsmError };

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 time (Go prints up to 9 fraction digits, which Date.parse does not promise to read). */
export function parseRFC3339(s: string): number | undefined {
  const m = RFC3339.exec(s);
  if (!m) return undefined;
  const [, y, mo, d, h, mi, sec, frac = '', zone] = m;
  const ms = Number(`${frac}000`.slice(0, 3));
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(sec), ms);
  if (zone !== 'Z' && zone !== 'z') {
    const sign = zone.startsWith('-') ? -1 : 1;
    t -= sign * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6))) * 60_000;
  }
  return Number.isFinite(t) ? t : undefined;
}

/** Formats as Go's time.RFC3339Nano does in UTC: trailing zeros of the fraction dropped. */
export function formatRFC3339(ms: number): string {
  return new Date(ms).toISOString().replace(/\.?0+Z$/, 'Z');
}

function single(md: grpc.Metadata, key: string): string | undefined | NsmError {
  const values = md.get(key);
  if (values.length === 0) return undefined;
  if (values.length > 1) return invalidArgument(`metadata ${key}: expected one value, got ${values.length}`);
  const v = values[0];
  return typeof v === 'string' ? v : invalidArgument(`metadata ${key}: expected text, got binary`);
}

/** Reads the two keys of an incoming call. Both absent: no token; one alone or a bad time: an error. */
export function fromMetadata(md: grpc.Metadata): PeerTokenResult {
  const token = single(md, TOKEN_KEY);
  const expires = single(md, EXPIRES_KEY);
  if (typeof token === 'object') return { ok: false, error: token };
  if (typeof expires === 'object') return { ok: false, error: expires };
  if (token === undefined && expires === undefined) return { ok: true, value: undefined };
  if (token === undefined || expires === undefined) {
    const missing = token === undefined ? TOKEN_KEY : EXPIRES_KEY;
    return {
      ok: false,
      error: invalidArgument(`metadata ${missing} is missing (the other token key is set)`),
    };
  }
  const expiresMs = parseRFC3339(expires);
  if (expiresMs === undefined) {
    return {
      ok: false,
      error: invalidArgument(
        `metadata ${EXPIRES_KEY}: ${JSON.stringify(expires.slice(0, 64))} is not an RFC 3339 time`,
      ),
    };
  }
  return { ok: true, value: { token, expiresMs } };
}

/** The metadata our client sends for its own segment (nothing when the segment has no token yet). */
export function toMetadata(segment: PathSegment | undefined): grpc.Metadata {
  const md = new grpc.Metadata();
  if (segment?.token && segment.expires) {
    md.set(TOKEN_KEY, segment.token);
    md.set(EXPIRES_KEY, formatRFC3339(segment.expires.getTime()));
  }
  return md;
}

const PEER_TOKEN = Symbol('peer-token');

/** Stores what the caller sent (contextFromCall does this for every incoming call). */
export function withPeerToken(ctx: Context, r: PeerTokenResult): Context {
  return withValue(ctx, PEER_TOKEN, r);
}

/** What the caller of this call sent; `{ok: true, value: undefined}` for an in-process call. */
export function peerToken(ctx: Context): PeerTokenResult {
  return value<PeerTokenResult>(ctx, PEER_TOKEN) ?? { ok: true, value: undefined };
}
