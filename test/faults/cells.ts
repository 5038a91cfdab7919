import type { StreamStats } from '../../sdk/tools/sandbox/probe.js';
// The cells of the fault matrix: {local, remote} connections × {forwarder, nsmgr, registry,
// endpoint, client, dataplane-interrupt, orphan} faults, and what the mesh promises for each.

export type Kind = 'local' | 'remote';
export type Fault =
  | 'forwarder'
  | 'nsmgr'
  | 'registry'
  | 'endpoint'
  | 'client'
  | 'dataplane-interrupt'
  | 'orphan';
/** Which node's daemon a forwarder/nsmgr/orphan fault hits on a remote connection. */
export type Side = 'client' | 'endpoint';
/**
 * What the mesh promises for a fault: `uninterrupted` (not one datagram lost), `restored` (traffic
 * comes back), `cleaned-up` (every interface of the connection is removed).
 */
export type Promised = 'uninterrupted' | 'restored' | 'cleaned-up';

export interface Cell {
  id: string;
  kind: Kind;
  fault: Fault;
  side: Side;
  promise: Promised;
  /** The surviving endpoint keeps the connection: addresses must not change. */
  addressesKept: boolean;
  /** The kernel interfaces must be the very same (same ifindex: kept, never swapped). */
  interfacesKept: boolean;
  /** Restarted after the kill (forwarder, nsmgr, registry; orphan restarts nsmgr and forwarder). */
  restart: boolean;
  description: string;
}

const FAULT_INFO: Record<
  Fault,
  Pick<Cell, 'promise' | 'addressesKept' | 'interfacesKept' | 'restart'> & { what: string }
> = {
  forwarder: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the forwarder, restart it; it adopts the interfaces',
  },
  nsmgr: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the nsmgr, restart it; clients and endpoints reconnect',
  },
  registry: {
    promise: 'uninterrupted',
    addressesKept: true,
    interfacesKept: true,
    restart: true,
    what: 'kill -9 the registry, restart it; registrations come back through refresh',
  },
  endpoint: {
    promise: 'restored',
    addressesKept: false,
    interfacesKept: false,
    restart: false,
    what: 'kill -9 the serving endpoint (and the echo server in its pod); the client reselects the other one',
  },
  client: {
    promise: 'cleaned-up',
    addressesKept: false,
    interfacesKept: false,
    restart: false,
    what: 'kill -9 the nsc; server-side expiry removes its interfaces',
  },
  'dataplane-interrupt': {
    promise: 'restored',
    addressesKept: true,
    interfacesKept: false,
    restart: false,
    what: '`ip link set nsm-1 down` in the client pod; heal restores traffic',
  },
  orphan: {
    promise: 'cleaned-up',
    addressesKept: false,
    interfacesKept: false,
    restart: true,
    what: 'kill -9 the nsc, the nsmgr and the forwarder of a node, restart both daemons; the new forwarder removes the interfaces no connection claims (grace period)',
  },
};

export const FAULTS: Fault[] = [
  'forwarder',
  'nsmgr',
  'registry',
  'endpoint',
  'client',
  'dataplane-interrupt',
  'orphan',
];

export function cell(kind: Kind, fault: Fault, side: Side = 'client'): Cell {
  const info = FAULT_INFO[fault];
  const sided = kind === 'remote' && (fault === 'forwarder' || fault === 'nsmgr' || fault === 'orphan');
  return {
    id: `${kind}/${fault}${sided ? `@${side}-node` : ''}`,
    kind,
    fault,
    side,
    promise: info.promise,
    addressesKept: info.addressesKept,
    interfacesKept: info.interfacesKept,
    restart: info.restart,
    description: info.what,
  };
}

/** Every cell: local and remote × every fault, and the endpoint-side node for remote daemon faults. */
export function matrix(): Cell[] {
  const cells: Cell[] = [];
  for (const kind of ['local', 'remote'] as const) {
    for (const fault of FAULTS) {
      cells.push(cell(kind, fault, 'client'));
      if (kind === 'remote' && (fault === 'forwarder' || fault === 'nsmgr'))
        cells.push(cell(kind, fault, 'endpoint'));
    }
  }
  return cells;
}

export interface RunOptions {
  /** Environment for every daemon (default FAULT_ENV). */
  env?: Record<string, string>;
  /** Keep a copy of the sandbox logs when something failed (default true). */
  keepLogsOnFailure?: boolean;
  log?: (line: string) => void;
}

export interface CellResult {
  cell: Cell;
  sandbox: string;
  env: Record<string, string>;
  /** Every promise the scenario broke (empty: all kept). */
  failures: string[];
  /** Datagrams lost on the connection (null: no stream measurement, e.g. client death). */
  lost: number | null;
  sent: number | null;
  /** Sum of the periods without any reply after the fault (ms). */
  noTrafficMs: number | null;
  /** Longest period without any reply (ms). */
  longestGapMs: number | null;
  /** From the fault until the end of the last outage (0: never interrupted; null: never restored). */
  restoreMs: number | null;
  /** Client/orphan faults: from the kill until every interface of the connection was gone (null: never). */
  cleanupMs: number | null;
  /** The restarted daemon holds the connection again (null: not applicable). */
  reconnected: boolean | null;
  /** Registry fault: the endpoints and forwarders are registered again. */
  registrationsBack: boolean | null;
  /** Restart faults: a new connection can be made after the restart. */
  newConnections: boolean | null;
  endpointBefore: string;
  endpointAfter: string;
  addressesBefore: { client: string[]; endpoint: string[] };
  addressesAfter: { client: string[]; endpoint: string[] } | null;
  addressesKept: boolean | null;
  interfacesKept: boolean | null;
  /** Kernel objects beyond the connection's own two interfaces, once recovered. */
  stray: string[];
  /** Kernel objects left in any namespace after the client closed (or expired). */
  leaked: string[];
  stream: StreamStats | null;
  faultAt: number;
  logs?: string;
  timeline: string[];
}
