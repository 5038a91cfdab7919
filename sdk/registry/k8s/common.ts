// How registry messages are stored as networkservicemesh.io/v1 custom resources (deploy/crds): `spec` is the
// proto message with upstream's snake_case JSON names, written the way Go's encoding/json writes the
// generated structs (empty fields omitted, google.protobuf.Timestamp as {seconds, nanos}), so objects
// written by upstream's registry-k8s and by us read the same.
import { createHash } from 'node:crypto';
import {
  NetworkService,
  NetworkServiceEndpoint,
  type NetworkServiceLabels,
} from '../../../api/gen/registry/registry.js';
import { getErrorMessage } from '../../errors/index.js';

export const GROUP = 'networkservicemesh.io';
export const VERSION = 'v1';
export const NSE_PLURAL = 'networkserviceendpoints';
export const NS_PLURAL = 'networkservices';

export interface CrMetadata {
  name?: string;
  namespace?: string;
  resourceVersion?: string;
  uid?: string;
  labels?: Record<string, string>;
}

/** A custom resource as the API returns it; `spec` is the snake_case message. */
export interface Cr {
  apiVersion?: string;
  kind?: string;
  metadata: CrMetadata;
  spec?: Record<string, unknown>;
}

export interface Timestamp {
  seconds: number;
  nanos?: number;
}

type Json = Record<string, unknown>;

function toTimestamp(d: Date | undefined): Timestamp | undefined {
  if (!d) return undefined;
  const ms = d.getTime();
  const seconds = Math.floor(ms / 1000);
  const nanos = (ms - seconds * 1000) * 1_000_000;
  return nanos ? { seconds, nanos } : { seconds };
}

function fromTimestamp(t: unknown): Date | undefined {
  if (!t || typeof t !== 'object') return undefined;
  const { seconds, nanos } = t as { seconds?: unknown; nanos?: unknown };
  const s = Number(seconds ?? 0);
  const n = Number(nanos ?? 0);
  if (!Number.isFinite(s) || !Number.isFinite(n)) return undefined;
  return new Date(s * 1000 + Math.floor(n / 1_000_000));
}

/** Drops empty values as Go's `omitempty` does, so a round trip gives upstream's shape. */
function compact(o: Json): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || v === '' || v === false || v === 0) continue;
    if (Array.isArray(v) && v.length === 0) continue;
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0) continue;
    out[k] = v;
  }
  return out;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.map(String) : []);
const stringMap = (v: unknown): Record<string, string> =>
  v && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, String(x)])) : {};
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

export function nseToSpec(nse: NetworkServiceEndpoint): Json {
  const labels: Json = {};
  for (const [svc, l] of Object.entries(nse.networkServiceLabels))
    labels[svc] = compact({ labels: l.labels });
  return compact({
    name: nse.name,
    network_service_names: nse.networkServiceNames,
    network_service_labels: labels,
    url: nse.url,
    expiration_time: toTimestamp(nse.expirationTime),
    initial_registration_time: toTimestamp(nse.initialRegistrationTime),
    path_ids: nse.pathIds,
  });
}

export function nseFromCr(cr: Cr): NetworkServiceEndpoint {
  const s = cr.spec ?? {};
  const labels: Record<string, NetworkServiceLabels> = {};
  const raw = s.network_service_labels;
  if (raw && typeof raw === 'object') {
    for (const [svc, l] of Object.entries(raw)) labels[svc] = { labels: stringMap((l as Json)?.labels) };
  }
  return NetworkServiceEndpoint.fromPartial({
    name: str(s.name) || cr.metadata.name || '',
    networkServiceNames: strings(s.network_service_names),
    networkServiceLabels: labels,
    url: str(s.url),
    expirationTime: fromTimestamp(s.expiration_time),
    initialRegistrationTime: fromTimestamp(s.initial_registration_time),
    pathIds: strings(s.path_ids),
  });
}

export function nsToSpec(ns: NetworkService): Json {
  return compact({
    name: ns.name,
    payload: ns.payload,
    matches: ns.matches.map((m) =>
      compact({
        source_selector: m.sourceSelector,
        routes: m.routes.map((r) =>
          compact({ destination_selector: r.destinationSelector, weight: r.weight }),
        ),
        fallthrough: m.fallthrough,
        metadata: m.metadata ? compact({ labels: m.metadata.labels }) : undefined,
      }),
    ),
    path_ids: ns.pathIds,
  });
}

export function nsFromCr(cr: Cr): NetworkService {
  const s = cr.spec ?? {};
  const matches = Array.isArray(s.matches) ? (s.matches as Json[]) : [];
  return NetworkService.fromPartial({
    name: str(s.name) || cr.metadata.name || '',
    payload: str(s.payload),
    matches: matches.map((m) => ({
      sourceSelector: stringMap(m?.source_selector),
      routes: (Array.isArray(m?.routes) ? (m.routes as Json[]) : []).map((r) => ({
        destinationSelector: stringMap(r?.destination_selector),
        weight: Number(r?.weight ?? 0),
      })),
      fallthrough: m?.fallthrough === true,
      metadata: m?.metadata ? { labels: stringMap((m.metadata as Json).labels) } : undefined,
    })),
    pathIds: strings(s.path_ids),
  });
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const MAX_NAME = 253;
/** Room left for "-" and the hash when a name has to be rewritten. */
const PREFIX_MAX = 200;

/**
 * The object name of a registry entry. A name that is a valid object name (DNS-1123 subdomain) is used
 * as is, so `kubectl get nse NAME` finds it. Any other name (upper case, `_`, `:`, too long) becomes its
 * lower-cased, sanitised prefix plus "-" and 10 hex digits of its SHA-256: deterministic, so every
 * registry derives the same object for the same name without a lookup, and distinct names stay distinct.
 * `spec.name` always keeps the real name; readers take the name from there.
 */
export function objectName(name: string): string {
  if (name.length <= MAX_NAME && DNS1123_SUBDOMAIN.test(name)) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  const prefix = name
    .toLowerCase()
    .replace(/[^a-z0-9.-]+/g, '-')
    .replace(/[.-]{2,}/g, '-')
    .slice(0, PREFIX_MAX)
    .replace(/^[^a-z0-9]+|[^a-z0-9]+$/g, '');
  return prefix ? `${prefix}-${hash}` : `x-${hash}`;
}

/**
 * Whether resourceVersion `a` is newer than `b`. They are opaque to clients, but etcd-backed apiservers
 * hand out increasing integers; the cache uses the order to drop an informer event that is older than
 * what its own write already returned. Non-numeric versions count as newer when they differ.
 */
export function newerVersion(a: string | undefined, b: string | undefined): boolean {
  if (!b) return true;
  if (!a) return false;
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) return BigInt(a) > BigInt(b);
  return a !== b;
}

/** The HTTP status of a failed API call (ApiException's `code`, Watch's `statusCode`), if any. */
export function httpStatus(e: unknown): number | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const { code, statusCode } = e as { code?: unknown; statusCode?: unknown };
  if (typeof code === 'number') return code;
  if (typeof statusCode === 'number') return statusCode;
  return undefined;
}

/** The API's own message ("… the object has been modified …") rather than client-node's dump of the call. */
export function apiMessage(e: unknown): string {
  const body = (e as { body?: unknown })?.body;
  try {
    const parsed = typeof body === 'string' ? JSON.parse(body) : body;
    if (parsed && typeof parsed === 'object' && typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON
  }
  return getErrorMessage(e).split('\n')[0];
}
