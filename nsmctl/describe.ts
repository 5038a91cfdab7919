// `nsmctl describe connection ID`: one connection hop by hop (name, id, URL, token expiry, the
// state each hop holds it in), the mechanism on every link with its parameters, the connection
// context, and the kernel state at both ends: the client's interface (the mechanism the first
// nsmgr holds names it) and the endpoint's (the mechanism the endpoint holds names it).
import { type Connection, type Mechanism, stateToJSON } from '../api/gen/networkservice/connection.js';
import { notFound } from '../sdk/errors/index.js';
import type { IpRunner, NetnsResolver } from '../sdk/kernel/index.js';
import { type Hop, hopsOf, type Snapshot } from './inspect.js';
import { type KernelEnd, readEnd } from './kernel-state.js';
import { findConnection, type MeshConnection } from './mesh.js';
import { type Column, expiry, table } from './output.js';

export interface Described {
  id: string;
  networkService: string;
  endpoint: string;
  hops: {
    index: number;
    name: string;
    id: string;
    url?: string;
    expires?: string;
    state: string;
    mechanism?: Mechanism;
  }[];
  context: Connection['context'];
  clientEnd: KernelEnd;
  endpointEnd: KernelEnd;
}

export interface Kernel {
  runner: IpRunner;
  resolver: NetnsResolver;
}

/** The state hop `h` holds the connection in, or why it holds nothing. */
export function hopState(h: Hop, first: boolean): string {
  if (h.held) return stateToJSON(h.held.state);
  if (first) return 'client';
  if (!h.daemon) return 'not reached';
  if (h.daemon.error) return 'unreachable';
  return 'not held';
}

export function lookup(snap: Snapshot, id: string): MeshConnection {
  const m = findConnection(snap.connections, id);
  if (!m) {
    const known = snap.connections.map((c) => c.id).slice(0, 5);
    throw notFound(
      `connection "${id}" not found at ${snap.nsmgrs.map((v) => v.url).join(', ')}` +
        (known.length ? ` (they hold ${known.join(', ')}${snap.connections.length > 5 ? ', ...' : ''})` : ''),
    );
  }
  return m;
}

export async function describe(snap: Snapshot, m: MeshConnection, kernel: Kernel): Promise<Described> {
  const hops = hopsOf(snap, m);
  const last = hops[hops.length - 1];
  const [clientEnd, endpointEnd] = await Promise.all([
    readEnd(kernel.runner, kernel.resolver, hops[1]?.held?.mechanism ?? m.connection.mechanism),
    readEnd(kernel.runner, kernel.resolver, last?.held?.mechanism),
  ]);
  return {
    id: m.id,
    networkService: m.connection.networkService,
    endpoint: m.connection.networkServiceEndpointName,
    hops: hops.map((h, i) => ({
      index: h.index,
      name: h.name,
      id: h.id,
      url: h.daemon?.url,
      expires: h.expires?.toISOString(),
      state: hopState(h, i === 0),
      mechanism: h.held?.mechanism,
    })),
    context: (hops[1]?.held ?? m.connection).context,
    clientEnd,
    endpointEnd,
  };
}

const HOP_COLUMNS: Column<Described['hops'][number]>[] = [
  { header: '#', cell: (h) => String(h.index) },
  { header: 'HOP', cell: (h) => h.name },
  { header: 'STATE', cell: (h) => h.state },
  { header: 'TOKEN EXPIRES', cell: (h) => expiry(h.expires ? new Date(h.expires) : undefined) },
  { header: 'URL', cell: (h) => h.url ?? '' },
  { header: 'ID', cell: (h) => h.id },
];

const params = (m: Mechanism | undefined) =>
  m
    ? `${m.type} ${Object.entries(m.parameters)
        .map(([k, v]) => `${k}=${v}`)
        .join(' ')}`.trim()
    : '<none>';

const indent = (text: string, n: number) =>
  text
    .trimEnd()
    .split('\n')
    .map((l) => ' '.repeat(n) + l)
    .join('\n');

export function renderEnd(title: string, e: KernelEnd): string {
  const lines = [`${title}: ${e.ifname || '<none>'} in ${e.netnsName ?? '<unknown namespace>'}`];
  if (e.error) return `${lines[0]}\n  Error:       ${e.error}\n`;
  const c = e.counters;
  lines.push(
    `  Link:        ${e.kind ?? 'device'}, mtu ${e.mtu}, ${e.up ? 'up' : 'DOWN'}, oper ${e.operState}${e.lowerUp ? '' : ', no carrier'}, mac ${e.mac}`,
  );
  if (e.vxlan) {
    lines.push(
      `  VXLAN:       vni ${e.vxlan.vni}, remote ${e.vxlan.remote ?? '-'}, local ${e.vxlan.local ?? '-'}, port ${e.vxlan.port ?? '-'}`,
    );
  }
  lines.push(`  Addresses:   ${e.addresses.join(', ') || '<none>'}`);
  lines.push(`  Routes:      ${e.routes.join(', ') || '<none>'}`);
  lines.push(`  Neighbours:  ${e.neighbours.join(', ') || '<none>'}`);
  if (c) {
    lines.push(
      `  Counters:    rx ${c.rxPackets} pkts ${c.rxBytes} B (${c.rxDropped} dropped, ${c.rxErrors} errors), tx ${c.txPackets} pkts ${c.txBytes} B (${c.txDropped} dropped, ${c.txErrors} errors)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export function render(d: Described): string {
  const ip = d.context?.ipContext;
  const out = [
    `Name:             ${d.id}`,
    `Network service:  ${d.networkService}`,
    `Endpoint:         ${d.endpoint || '<none>'}`,
    'Path:',
    indent(table(d.hops, HOP_COLUMNS, false), 2),
    'Mechanisms:',
    ...d.hops.slice(1).map((h, i) => `  ${d.hops[i].name} -> ${h.name}: ${params(h.mechanism)}`),
    'Context:',
    `  Source IPs:          ${ip?.srcIpAddrs.join(', ') || '<none>'}`,
    `  Destination IPs:     ${ip?.dstIpAddrs.join(', ') || '<none>'}`,
    `  Source routes:       ${ip?.srcRoutes.map((r) => r.prefix).join(', ') || '<none>'}`,
    `  Destination routes:  ${ip?.dstRoutes.map((r) => r.prefix).join(', ') || '<none>'}`,
    `  Excluded prefixes:   ${ip?.excludedPrefixes.join(', ') || '<none>'}`,
  ];
  return `${out.join('\n')}\n${renderEnd('Client end', d.clientEnd)}${renderEnd('Endpoint end', d.endpointEnd)}`;
}
