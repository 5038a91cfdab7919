// Everything nsmctl can learn about connections, gathered once: each asked nsmgr's connections, the
// registry as each nsmgr's proxy answers (a daemon local to that nsmgr shows under its own unix URL
// there, which is how nsmctl reaches forwarders and endpoints), and the connections each of those
// daemons holds. `describe` and `diagnose` read one connection's hops out of it.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Connection } from '../api/gen/networkservice/connection.js';
import type { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import type { ClientPool } from '../sdk/grpc/client-pool.js';
import { findEndpoints, type MeshConnection, mergeConnections, type NsmgrView, nsmgrViews } from './mesh.js';
import type { Targets } from './targets.js';

export interface Daemon {
  name: string;
  url: string;
  kind: 'nsmgr' | 'forwarder' | 'endpoint';
  /** The nsmgr this daemon is local to (its registry proxy listed it under a unix URL). */
  nsmgr?: string;
  connections?: Connection[];
  error?: Error;
}

export interface Snapshot {
  at: number;
  nsmgrs: NsmgrView[];
  /** Registered endpoints and forwarders, as the registry (the first answer) holds them. */
  registered: NetworkServiceEndpoint[];
  registryError?: Error;
  /** nsmgrs whose registry proxy failed (they cannot reach the registry), by URL. */
  proxyErrors: Map<string, Error>;
  /** Every daemon asked, with what it holds. */
  daemons: Daemon[];
  connections: MeshConnection[];
}

export interface InspectOptions {
  targets: Targets;
  pool: ClientPool;
  forwarderService: string;
  timeoutMs?: number;
  /**
   * Names learnt earlier, by URL (a long-lived caller such as `ui` passes the same map every time):
   * a daemon holding no connection, or not answering, keeps the name it had.
   */
  names?: Map<string, string>;
}

/** Gathers the snapshot; daemons that do not answer carry their error. */
export async function inspect(o: InspectOptions): Promise<Snapshot> {
  const at = Date.now();
  const proxyErrors = new Map<string, Error>();
  const [views, proxies, central] = await Promise.all([
    nsmgrViews(o.pool, o.targets.nsmgrs, o.timeoutMs),
    Promise.all(
      o.targets.nsmgrs.map((u) =>
        findEndpoints(o.pool, u, o.timeoutMs).catch((e: Error) => {
          proxyErrors.set(u, e);
          return [] as NetworkServiceEndpoint[];
        }),
      ),
    ),
    findEndpoints(o.pool, o.targets.registry, o.timeoutMs).then(
      (r) => ({ r, e: undefined }),
      (e: Error) => ({ r: [] as NetworkServiceEndpoint[], e }),
    ),
  ]);
  const daemons: Daemon[] = views.map((v) => ({
    name: nameOf(v),
    url: v.url,
    kind: 'nsmgr',
    connections: v.connections,
    error: v.error,
  }));
  const local = new Map<string, Daemon>();
  proxies.forEach((list, i) => {
    for (const e of list) {
      if (!e.url.startsWith('unix://') || local.has(e.name)) continue;
      const kind = e.networkServiceNames.includes(o.forwarderService) ? 'forwarder' : 'endpoint';
      local.set(e.name, { name: e.name, url: e.url, kind, nsmgr: o.targets.nsmgrs[i] });
    }
  });
  // Sockets beside an nsmgr's (the sandbox's forwarder and endpoint sockets, a node's
  // /var/lib/networkservicemesh): found even when the registry cannot be asked or lost them.
  const known = new Set([...o.targets.nsmgrs, ...[...local.values()].map((d) => d.url)]);
  for (const nsmgr of o.targets.nsmgrs) {
    for (const url of siblingSockets(nsmgr)) {
      if (known.has(url)) continue;
      known.add(url);
      const kind = /forwarder/.test(url) ? 'forwarder' : 'endpoint';
      local.set(url, { name: '', url, kind, nsmgr });
    }
  }
  const others = [...local.values()];
  const answers = await nsmgrViews(
    o.pool,
    others.map((d) => d.url),
    o.timeoutMs,
  );
  others.forEach((d, i) => {
    d.connections = answers[i].connections;
    d.error = answers[i].error;
    if (!d.name) d.name = nameOf(answers[i]);
  });
  daemons.push(...others);
  for (const d of daemons) {
    if (d.name) o.names?.set(d.url, d.name);
    else d.name = o.names?.get(d.url) ?? '';
  }
  return {
    at,
    nsmgrs: views,
    registered: central.r,
    registryError: central.e,
    proxyErrors,
    daemons,
    // Every daemon's view, nsmgrs first: a connection whose nsmgr is dead is still found at its
    // forwarder or endpoint.
    connections: mergeConnections([
      ...views,
      ...others.map((d) => ({ url: d.url, connections: d.connections })),
    ]),
  };
}

/** The other unix sockets in the directory of a unix nsmgr URL. */
function siblingSockets(nsmgrURL: string): string[] {
  if (!nsmgrURL.startsWith('unix://')) return [];
  const path = nsmgrURL.slice('unix://'.length);
  try {
    return readdirSync(dirname(path))
      .filter((f) => f.endsWith('.sock') && join(dirname(path), f) !== path)
      .map((f) => `unix://${join(dirname(path), f)}`);
  } catch {
    return [];
  }
}

/** A daemon's name: its own segment on the paths it holds. */
function nameOf(v: NsmgrView): string {
  const c = v.connections?.[0];
  return c?.path?.pathSegments[c.path.index]?.name ?? '';
}

/** One hop of a connection's path, with what the daemon of that hop says about it. */
export interface Hop {
  index: number;
  name: string;
  id: string;
  expires?: Date;
  /** The daemon serving this hop, when nsmctl found it (clients serve nothing). */
  daemon?: Daemon;
  /** The connection as this hop holds it (found by its segment id); undefined: it does not hold it. */
  held?: Connection;
}

export function hopsOf(snap: Snapshot, m: MeshConnection): Hop[] {
  const segs = m.connection.path?.pathSegments ?? [];
  return segs.map((s, index) => {
    let daemon = snap.daemons.find((d) => d.name === s.name);
    let held: Connection | undefined;
    for (const d of snap.daemons) {
      const c = d.connections?.find((x) => x.id === s.id);
      if (c) {
        held = c;
        daemon = d;
        break;
      }
    }
    return { index, name: s.name, id: s.id, expires: s.expires, daemon, held };
  });
}

/** The mechanism between hop i-1 and hop i: what hop i holds (its incoming side). */
export function mechanismInto(hops: Hop[], i: number): Connection['mechanism'] {
  return hops[i]?.held?.mechanism;
}
