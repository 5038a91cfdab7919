// What the topology page draws, computed from a snapshot (inspect.ts): the nodes (one per nsmgr
// asked), the daemons on each, the clients, and each connection's path with the state every hop
// holds it in. The colour is decided here, not in the page, so the test can read it back.
import { hopState } from '../describe.js';
import { hopsOf, type Snapshot } from '../inspect.js';
import type { MeshConnection } from '../mesh.js';

export type Colour = 'up' | 'degraded' | 'broken';

export interface TopologyHop {
  name: string;
  kind: string;
  state: string;
}

export interface TopologyConnection {
  id: string;
  /** No daemon holds it any more; kept on the page for a while, drawn through its last path. */
  gone: boolean;
  networkService: string;
  endpoint: string;
  colour: Colour;
  hops: TopologyHop[];
}

export interface Topology {
  at: string;
  nodes: { url: string; name: string; ok: boolean; error?: string }[];
  daemons: { name: string; kind: string; url: string; node: string; ok: boolean; error?: string }[];
  clients: { name: string; node: string }[];
  connections: TopologyConnection[];
  registryError?: string;
}

const kindAt = (i: number, n: number) =>
  i === 0 ? 'client' : i === n - 1 ? 'endpoint' : i % 2 ? 'nsmgr' : 'forwarder';

/** Red when a hop's daemon is gone or holds nothing of it; amber when a hop holds it DOWN. */
export function colourOf(states: string[]): Colour {
  if (states.some((s) => s === 'unreachable' || s === 'not held')) return 'broken';
  if (states.some((s) => s !== 'UP' && s !== 'client')) return 'degraded';
  return 'up';
}

/** `gone`: connections no daemon holds any more, drawn with what each hop says now. */
export function topology(snap: Snapshot, gone: MeshConnection[] = []): Topology {
  const nodeOf = new Map<string, string>(); // daemon name -> nsmgr URL
  const nodes = snap.nsmgrs.map((v) => {
    const d = snap.daemons.find((x) => x.url === v.url);
    return { url: v.url, name: d?.name || v.url, ok: !v.error, error: v.error?.message };
  });
  const daemons = snap.daemons
    .filter((d) => d.kind !== 'nsmgr')
    .map((d) => ({
      name: d.name || d.url,
      kind: d.kind,
      url: d.url,
      node: d.nsmgr ?? '',
      ok: !d.error,
      error: d.error?.message,
    }));
  const clients = new Map<string, string>();
  const all = [...snap.connections.map((m) => ({ m, gone: false })), ...gone.map((m) => ({ m, gone: true }))];
  const connections = all.map(({ m, gone }) => {
    const hops = hopsOf(snap, m);
    const states = hops.map((h, i) => hopState(h, i === 0));
    const first = hops[1]?.daemon?.url ?? m.views[0]?.nsmgr ?? '';
    if (hops[0]) clients.set(hops[0].name, first);
    for (const h of hops) if (h.daemon?.nsmgr) nodeOf.set(h.name, h.daemon.nsmgr);
    return {
      id: m.id,
      gone,
      networkService: m.connection.networkService,
      endpoint: m.connection.networkServiceEndpointName,
      colour: gone ? ('broken' as const) : colourOf(states),
      hops: hops.map((h, i) => ({ name: h.name, kind: kindAt(i, hops.length), state: states[i] })),
    };
  });
  return {
    at: new Date(snap.at).toISOString(),
    nodes,
    daemons,
    clients: [...clients].map(([name, node]) => ({ name, node })),
    connections,
    registryError: snap.registryError?.message,
  };
}
