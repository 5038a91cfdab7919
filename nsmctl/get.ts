// `nsmctl get <resource>`: one table per resource kind, built from what the daemons answer
// (mesh.ts). Each kind is a fetch plus its columns; `-o wide` adds the columns marked wide,
// `-o json|yaml` prints the API objects.
import { Connection, stateToJSON } from '../api/gen/networkservice/connection.js';
import { NetworkService, NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { invalidArgument } from '../sdk/errors/index.js';
import type { ClientPool } from '../sdk/grpc/client-pool.js';
import {
  findEndpoints,
  findServices,
  type MeshConnection,
  mergeConnections,
  type NsmgrView,
  nsmgrViews,
} from './mesh.js';
import { type Column, expiry, type Format, list, table } from './output.js';
import type { Targets } from './targets.js';

export const RESOURCES = ['connections', 'endpoints', 'services', 'forwarders', 'nsmgrs'] as const;
export type Resource = (typeof RESOURCES)[number];

const ALIASES: Record<string, Resource> = {
  connection: 'connections',
  conn: 'connections',
  conns: 'connections',
  endpoint: 'endpoints',
  nse: 'endpoints',
  nses: 'endpoints',
  service: 'services',
  ns: 'services',
  forwarder: 'forwarders',
  fwd: 'forwarders',
  nsmgr: 'nsmgrs',
};

export function parseResource(s: string): Resource {
  const r = (RESOURCES as readonly string[]).includes(s) ? (s as Resource) : ALIASES[s];
  if (!r) throw invalidArgument(`get: unknown resource "${s}" (use one of ${RESOURCES.join(', ')})`);
  return r;
}

export interface GetOptions {
  targets: Targets;
  pool: ClientPool;
  format: Format;
  /** The network service forwarders register for (NSM_FORWARDER_NETWORK_SERVICE_NAME). */
  forwarderService: string;
  timeoutMs?: number;
}

/** What `get` prints, and the errors of daemons that did not answer (they make the exit code 1). */
export interface GetResult {
  text: string;
  errors: Error[];
}

const stateName = (c: Connection) => stateToJSON(c.state);
const hopNames = (c: Connection) => (c.path?.pathSegments ?? []).map((s) => s.name);
/** Which nsmgr a URL points to, short: the socket's directory for unix sockets, else the URL. */
export const shortURL = (url: string) => url.replace(/^unix:\/\/.*\/([^/]+)\/[^/]+$/, '$1');

const CONNECTION_COLUMNS: Column<MeshConnection>[] = [
  { header: 'ID', cell: (m) => m.id },
  { header: 'NETWORK SERVICE', cell: (m) => m.connection.networkService },
  { header: 'ENDPOINT', cell: (m) => m.connection.networkServiceEndpointName },
  { header: 'STATE', cell: (m) => [...new Set(m.views.map((v) => stateName(v.connection)))].join(',') },
  { header: 'MECHANISM', cell: (m) => m.connection.mechanism?.type ?? '' },
  { header: 'HOPS', cell: (m) => String(hopNames(m.connection).length) },
  { header: 'EXPIRES', cell: (m) => expiry(m.connection.path?.pathSegments[0]?.expires) },
  {
    header: 'SRC',
    cell: (m) => (m.connection.context?.ipContext?.srcIpAddrs ?? []).join(','),
    wide: true,
  },
  {
    header: 'DST',
    cell: (m) => (m.connection.context?.ipContext?.dstIpAddrs ?? []).join(','),
    wide: true,
  },
  { header: 'PATH', cell: (m) => hopNames(m.connection).join('>'), wide: true },
];

const isForwarder = (svc: string) => (e: NetworkServiceEndpoint) => e.networkServiceNames.includes(svc);

const labelsOf = (e: NetworkServiceEndpoint) =>
  Object.entries(e.networkServiceLabels)
    .flatMap(([svc, l]) => Object.entries(l.labels).map(([k, v]) => `${svc}:${k}=${v}`))
    .join(',');

const ENDPOINT_COLUMNS: Column<NetworkServiceEndpoint>[] = [
  { header: 'NAME', cell: (e) => e.name },
  { header: 'NETWORK SERVICES', cell: (e) => e.networkServiceNames.join(',') },
  { header: 'URL', cell: (e) => e.url },
  { header: 'EXPIRES', cell: (e) => expiry(e.expirationTime) },
  { header: 'LABELS', cell: labelsOf, wide: true },
  { header: 'REGISTERED', cell: (e) => e.initialRegistrationTime?.toISOString() ?? '', wide: true },
];

interface ServiceRow {
  ns: NetworkService;
  endpoints: string[];
}
const SERVICE_COLUMNS: Column<ServiceRow>[] = [
  { header: 'NAME', cell: (r) => r.ns.name },
  { header: 'PAYLOAD', cell: (r) => r.ns.payload },
  { header: 'ENDPOINTS', cell: (r) => String(r.endpoints.length) },
  { header: 'MATCHES', cell: (r) => String(r.ns.matches.length), wide: true },
  { header: 'ENDPOINT NAMES', cell: (r) => r.endpoints.join(','), wide: true },
];

interface NsmgrRow {
  url: string;
  name: string;
  status: string;
  connections: string;
  endpoints: string;
  forwarders: string;
  error: string;
}
const NSMGR_COLUMNS: Column<NsmgrRow>[] = [
  { header: 'NAME', cell: (r) => r.name },
  { header: 'URL', cell: (r) => r.url },
  { header: 'STATUS', cell: (r) => r.status },
  { header: 'CONNECTIONS', cell: (r) => r.connections },
  { header: 'ENDPOINTS', cell: (r) => r.endpoints },
  { header: 'FORWARDERS', cell: (r) => r.forwarders },
  { header: 'ERROR', cell: (r) => r.error, wide: true },
];

/** The nsmgr's own name: its segment on the paths it holds (its index on each). */
function nsmgrName(v: NsmgrView): string {
  const c = v.connections?.[0];
  return c?.path?.pathSegments[c.path.index]?.name ?? '';
}

function nsmgrRows(views: NsmgrView[], nses: NetworkServiceEndpoint[], fwdSvc: string): NsmgrRow[] {
  const rows: NsmgrRow[] = views.map((v) => ({
    url: v.url,
    name: nsmgrName(v),
    status: v.error ? 'Unreachable' : 'Ready',
    connections: v.connections ? String(v.connections.length) : '',
    endpoints: '',
    forwarders: '',
    error: v.error?.message ?? '',
  }));
  // Endpoints and forwarders registered through an nsmgr carry its public URL (localbypass).
  const byURL = new Map<string, NetworkServiceEndpoint[]>();
  for (const e of nses) byURL.set(e.url, [...(byURL.get(e.url) ?? []), e]);
  for (const [url, es] of [...byURL].sort()) {
    const fwd = es.filter(isForwarder(fwdSvc));
    if (!url.startsWith('tcp://')) continue; // a daemon's own socket, listed by its local nsmgr: not an nsmgr
    rows.push({
      url,
      name: '',
      status: 'Registered',
      connections: '',
      endpoints: String(es.length - fwd.length),
      forwarders: fwd.map((f) => f.name).join(','),
      error: '',
    });
  }
  return rows;
}

export async function get(resource: Resource, o: GetOptions): Promise<GetResult> {
  const wide = o.format === 'wide';
  const structured = o.format === 'json' || o.format === 'yaml' ? o.format : undefined;
  const errors: Error[] = [];
  const registry = () =>
    findEndpoints(o.pool, o.targets.registry, o.timeoutMs).catch((e: Error) => {
      errors.push(e);
      return [] as NetworkServiceEndpoint[];
    });
  switch (resource) {
    case 'connections': {
      // A table needs a few fields of each connection; json and yaml print them whole.
      const views = await nsmgrViews(o.pool, o.targets.nsmgrs, o.timeoutMs, {
        summary: !structured,
        allHops: wide,
      });
      for (const v of views) if (v.error) errors.push(v.error);
      const conns = mergeConnections(views);
      const text = structured
        ? await list(
            'Connection',
            conns.map((m) => Connection.toJSON(m.connection)),
            structured,
          )
        : table(conns, CONNECTION_COLUMNS, wide);
      return { text, errors };
    }
    case 'endpoints':
    case 'forwarders': {
      const all = await registry();
      const fwd = isForwarder(o.forwarderService);
      const rows = all.filter((e) => (resource === 'forwarders' ? fwd(e) : !fwd(e)));
      const text = structured
        ? await list(
            'NetworkServiceEndpoint',
            rows.map((e) => NetworkServiceEndpoint.toJSON(e)),
            structured,
          )
        : table(rows, ENDPOINT_COLUMNS, wide);
      return { text, errors };
    }
    case 'services': {
      const [nss, nses] = await Promise.all([
        findServices(o.pool, o.targets.registry, o.timeoutMs).catch((e: Error) => {
          errors.push(e);
          return [] as NetworkService[];
        }),
        registry(),
      ]);
      const rows = nss.map((ns) => ({
        ns,
        endpoints: nses.filter((e) => e.networkServiceNames.includes(ns.name)).map((e) => e.name),
      }));
      const text = structured
        ? await list(
            'NetworkService',
            nss.map((ns) => NetworkService.toJSON(ns)),
            structured,
          )
        : table(rows, SERVICE_COLUMNS, wide);
      return { text, errors };
    }
    case 'nsmgrs': {
      const [views, nses] = await Promise.all([
        nsmgrViews(o.pool, o.targets.nsmgrs, o.timeoutMs, { summary: true }),
        registry(),
      ]);
      for (const v of views) if (v.error) errors.push(v.error);
      const rows = nsmgrRows(views, nses, o.forwarderService);
      const text = structured ? await list('Nsmgr', rows, structured) : table(rows, NSMGR_COLUMNS, wide);
      return { text, errors };
    }
  }
}
