// What nsmctl reads from the mesh, through the daemons' own APIs only: each nsmgr's
// MonitorConnections stream (its INITIAL_STATE_TRANSFER is the connections it holds) and the
// registry's Find (endpoints, forwarders, services). A daemon that does not answer is reported
// with its error next to what the others said, so one dead nsmgr does not hide the rest.
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
} from '../api/gen/networkservice/connection.js';
import type { NetworkService, NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background, withTimeout } from '../sdk/core/context.js';
import { unavailable } from '../sdk/errors/index.js';
import type { ClientPool } from '../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { summaryMonitor } from './connection-summary.js';

/** How long one daemon may take to answer before nsmctl reports it unreachable. */
export const ANSWER_TIMEOUT_MS = 3_000;

/** What one nsmgr answered: the connections it holds, or why it did not answer. */
export interface NsmgrView {
  url: string;
  connections?: Connection[];
  error?: Error;
}

export interface SnapshotOptions {
  /** Decode only what `get`'s tables print (connection-summary.ts). */
  summary?: boolean;
  /** With summary: every hop's name and id too (`-o wide`); else only the client's and the nsmgr's. */
  allHops?: boolean;
}

/** The connections one nsmgr holds, from its MonitorConnections INITIAL_STATE_TRANSFER. */
export function monitorSnapshot(
  pool: ClientPool,
  url: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
  opts: SnapshotOptions = {},
): Promise<Connection[]> {
  return new Promise<Connection[]>((resolve, reject) => {
    const timer = setTimeout(() => {
      void stream.close();
      reject(unavailable(`failed to monitor connections at ${url}: no answer within ${timeoutMs} ms`));
    }, timeoutMs);
    const stream = pool.monitor(
      url,
      { pathSegments: [], networkServices: [] },
      (ev: ConnectionEvent) => {
        if (ev.type !== ConnectionEventType.INITIAL_STATE_TRANSFER) return;
        clearTimeout(timer);
        void stream.close();
        resolve(Object.values(ev.connections));
      },
      (err) => {
        clearTimeout(timer);
        reject(err);
      },
      opts.summary ? summaryMonitor({ allHops: opts.allHops }) : undefined,
    );
  });
}

export async function nsmgrViews(
  pool: ClientPool,
  urls: string[],
  timeoutMs = ANSWER_TIMEOUT_MS,
  opts: SnapshotOptions = {},
): Promise<NsmgrView[]> {
  return Promise.all(
    urls.map((url) =>
      monitorSnapshot(pool, url, timeoutMs, opts).then(
        (connections): NsmgrView => ({ url, connections }),
        (error: Error): NsmgrView => ({ url, error }),
      ),
    ),
  );
}

const ANY_NSE: NetworkServiceEndpoint = {
  name: '',
  networkServiceNames: [],
  networkServiceLabels: {},
  url: '',
  expirationTime: undefined,
  initialRegistrationTime: undefined,
  pathIds: [],
};

/** Every registered endpoint (forwarders included), by name. */
export async function findEndpoints(
  pool: ClientPool,
  url: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<NetworkServiceEndpoint[]> {
  const reg = newNseRegistryClient(url, { pool });
  const { ctx, cancel } = withTimeout(background(), timeoutMs);
  const out = new Map<string, NetworkServiceEndpoint>();
  try {
    await reg.find(ctx, { networkServiceEndpoint: ANY_NSE, watch: false }, (r) => {
      const nse = r.networkServiceEndpoint;
      if (!nse) return;
      if (r.deleted) out.delete(nse.name);
      else out.set(nse.name, nse);
    });
  } finally {
    cancel();
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/** Every registered network service, by name. */
export async function findServices(
  pool: ClientPool,
  url: string,
  timeoutMs = ANSWER_TIMEOUT_MS,
): Promise<NetworkService[]> {
  const reg = newNsRegistryClient(url, { pool });
  const { ctx, cancel } = withTimeout(background(), timeoutMs);
  const out = new Map<string, NetworkService>();
  try {
    const query = { networkService: { name: '', payload: '', matches: [], pathIds: [] }, watch: false };
    await reg.find(ctx, query, (r) => {
      const ns = r.networkService;
      if (!ns) return;
      if (r.deleted) out.delete(ns.name);
      else out.set(ns.name, ns);
    });
  } finally {
    cancel();
  }
  return [...out.values()].sort((a, b) => a.name.localeCompare(b.name));
}

/**
 * One connection of the mesh as every asked nsmgr sees it. Its id is the client's (the first path
 * segment's id, what the client and `npm start` print); each hop has its own id on the path.
 */
export interface MeshConnection {
  id: string;
  /** The view of the nsmgr nearest the client (lowest path index): what the client asked for and got. */
  connection: Connection;
  /** Each nsmgr that holds it, with its own view. */
  views: { nsmgr: string; connection: Connection }[];
}

export function clientId(c: Connection): string {
  return c.path?.pathSegments[0]?.id || c.id;
}

/** Merges the nsmgrs' views into one entry per connection (keyed by the client's id). */
export function mergeConnections(views: NsmgrView[]): MeshConnection[] {
  const byId = new Map<string, MeshConnection>();
  for (const v of views) {
    for (const c of v.connections ?? []) {
      const id = clientId(c);
      const m = byId.get(id);
      if (!m) {
        byId.set(id, { id, connection: c, views: [{ nsmgr: v.url, connection: c }] });
        continue;
      }
      m.views.push({ nsmgr: v.url, connection: c });
      if ((c.path?.index ?? 0) < (m.connection.path?.index ?? 0)) m.connection = c;
    }
  }
  // By code unit, as kubectl sorts names: localeCompare asks ICU, 40x slower over 1000 connections.
  return [...byId.values()].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Finds a connection by the client's id or by any hop's id on its path. */
export function findConnection(conns: MeshConnection[], id: string): MeshConnection | undefined {
  return (
    conns.find((c) => c.id === id) ??
    conns.find((c) => c.views.some((v) => v.connection.path?.pathSegments.some((s) => s.id === id)))
  );
}
