// The kernel state at one end of a connection, read with `ip -json` through sdk/kernel's runner
// (nsmctl never spawns ip itself): the interface the mechanism names, in the namespace its
// inodeURL names, with its addresses, routes, neighbours, counters and VXLAN parameters.
import { basename } from 'node:path';
import type { Mechanism } from '../api/gen/networkservice/connection.js';
import { getErrorMessage } from '../sdk/errors/index.js';
import type { IpRunner, NetnsResolver } from '../sdk/kernel/index.js';

export interface Counters {
  rxPackets: number;
  rxBytes: number;
  rxDropped: number;
  rxErrors: number;
  txPackets: number;
  txBytes: number;
  txDropped: number;
  txErrors: number;
}

export interface Vxlan {
  vni: number;
  remote?: string;
  local?: string;
  port?: number;
}

export interface KernelEnd {
  /** The namespace path (/var/run/netns/NAME or /proc/PID/ns/net) and its short name. */
  netns?: string;
  netnsName?: string;
  ifname: string;
  /** Why the interface could not be read (namespace gone, no such device); the rest is then empty. */
  error?: string;
  kind?: string;
  mtu?: number;
  operState?: string;
  /** The administrative flag (UP in flags). */
  up?: boolean;
  lowerUp?: boolean;
  mac?: string;
  addresses: string[];
  routes: string[];
  neighbours: string[];
  counters?: Counters;
  vxlan?: Vxlan;
}

interface IpLink {
  ifname: string;
  flags?: string[];
  mtu?: number;
  operstate?: string;
  address?: string;
  linkinfo?: {
    info_kind?: string;
    info_data?: { id?: number; remote?: string; local?: string; port?: number };
  };
  stats64?: {
    rx?: { bytes?: number; packets?: number; errors?: number; dropped?: number };
    tx?: { bytes?: number; packets?: number; errors?: number; dropped?: number };
  };
}
interface IpAddr {
  addr_info?: { local?: string; prefixlen?: number; scope?: string }[];
}
interface IpRoute {
  dst?: string;
  gateway?: string;
  scope?: string;
  protocol?: string;
}
interface IpNeigh {
  dst?: string;
  lladdr?: string;
  state?: string[];
}

export function parseLink(l: IpLink): Omit<KernelEnd, 'addresses' | 'routes' | 'neighbours' | 'ifname'> {
  const flags = l.flags ?? [];
  const data = l.linkinfo?.info_data;
  const s = l.stats64;
  return {
    kind: l.linkinfo?.info_kind,
    mtu: l.mtu,
    operState: l.operstate,
    up: flags.includes('UP'),
    lowerUp: flags.includes('LOWER_UP'),
    mac: l.address,
    counters: s && {
      rxPackets: s.rx?.packets ?? 0,
      rxBytes: s.rx?.bytes ?? 0,
      rxDropped: s.rx?.dropped ?? 0,
      rxErrors: s.rx?.errors ?? 0,
      txPackets: s.tx?.packets ?? 0,
      txBytes: s.tx?.bytes ?? 0,
      txDropped: s.tx?.dropped ?? 0,
      txErrors: s.tx?.errors ?? 0,
    },
    vxlan:
      l.linkinfo?.info_kind === 'vxlan' && data?.id !== undefined
        ? { vni: data.id, remote: data.remote, local: data.local, port: data.port }
        : undefined,
  };
}

export function parseRoute(r: IpRoute): string {
  return [
    r.dst ?? '',
    r.gateway ? `via ${r.gateway}` : '',
    r.scope && r.scope !== 'global' ? `scope ${r.scope}` : '',
  ]
    .filter(Boolean)
    .join(' ');
}

export function parseNeigh(n: IpNeigh): string {
  return [n.dst ?? '', n.lladdr ? `lladdr ${n.lladdr}` : '', (n.state ?? []).join(',')]
    .filter(Boolean)
    .join(' ');
}

/** Reads the interface `mechanism` names (its `name` and `inodeURL` parameters). */
export async function readEnd(
  runner: IpRunner,
  resolver: NetnsResolver,
  mechanism: Mechanism | undefined,
): Promise<KernelEnd> {
  const ifname = mechanism?.parameters.name ?? '';
  const inodeURL = mechanism?.parameters.inodeURL;
  const end: KernelEnd = { ifname, addresses: [], routes: [], neighbours: [] };
  if (!ifname || !inodeURL) {
    end.error = `the ${mechanism?.type ?? 'missing'} mechanism names no interface and namespace (name, inodeURL)`;
    return end;
  }
  let path: string;
  try {
    path = (await resolver.resolve(inodeURL)).path;
  } catch (e) {
    end.error = `namespace ${inodeURL} not found: ${getErrorMessage(e)}`;
    return end;
  }
  end.netns = path;
  end.netnsName = path.startsWith('/proc/') ? path : basename(path);
  const ns = { path };
  try {
    const [links, addrs, routes, neigh] = await Promise.all([
      runner.json<IpLink[]>(ns, ['-d', '-s', 'link', 'show', 'dev', ifname]),
      runner.json<IpAddr[]>(ns, ['addr', 'show', 'dev', ifname]),
      runner.json<IpRoute[]>(ns, ['route', 'show', 'dev', ifname]),
      runner.json<IpNeigh[]>(ns, ['neigh', 'show', 'dev', ifname]),
    ]);
    const link = links[0];
    if (!link) throw new Error(`no link ${ifname}`);
    Object.assign(end, parseLink(link));
    end.addresses = addrs.flatMap((a) => (a.addr_info ?? []).map((i) => `${i.local}/${i.prefixlen}`));
    end.routes = routes.map(parseRoute);
    end.neighbours = neigh.map(parseNeigh);
  } catch (e) {
    end.error = getErrorMessage(e);
  }
  return end;
}
