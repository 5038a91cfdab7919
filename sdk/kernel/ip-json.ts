// What `ip -json` prints, parsed: links, addresses, routes, and a link's traffic counters (`ip -s
// -json link show dev NAME`, the kernel's stats64), which the stats element puts on the forwarder's
// path segment.
import type { LinkInfo, RouteInfo } from './dataplane.js';
import type { IpRunner, NetnsRef, RunOptions } from './iproute2.js';

/** A link's counters since it was created. */
export interface LinkStats {
  readonly alias?: string;
  readonly rxBytes: number;
  readonly txBytes: number;
  readonly rxPackets: number;
  readonly txPackets: number;
  readonly rxDropped: number;
  readonly txDropped: number;
}

interface JsonStatsDir {
  bytes?: number;
  packets?: number;
  dropped?: number;
}

interface JsonLinkStats {
  ifalias?: string;
  stats64?: { rx?: JsonStatsDir; tx?: JsonStatsDir };
}

export async function readLinkStats(
  runner: IpRunner,
  netns: NetnsRef | null,
  name: string,
  opts: RunOptions = {},
): Promise<LinkStats> {
  const [l] = await runner.json<JsonLinkStats[]>(netns, ['-s', 'link', 'show', 'dev', name], opts);
  const rx = l?.stats64?.rx ?? {};
  const tx = l?.stats64?.tx ?? {};
  return {
    alias: l?.ifalias,
    rxBytes: rx.bytes ?? 0,
    txBytes: tx.bytes ?? 0,
    rxPackets: rx.packets ?? 0,
    txPackets: tx.packets ?? 0,
    rxDropped: rx.dropped ?? 0,
    txDropped: tx.dropped ?? 0,
  };
}

export interface JsonLink {
  ifindex: number;
  ifname: string;
  ifalias?: string;
  mtu: number;
  address?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: { id?: number } };
}

export interface JsonAddr extends Partial<JsonLink> {
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

export interface JsonRoute {
  dst: string;
  gateway?: string;
  via?: { family: string; host: string };
  scope?: string;
  protocol?: string;
  flags?: string[];
}

export function toLinkInfo(l: JsonLink): LinkInfo {
  return {
    ifindex: l.ifindex,
    name: l.ifname,
    ...(l.ifalias ? { alias: l.ifalias } : {}),
    mtu: l.mtu,
    address: l.address ?? '',
    ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
    ...(l.linkinfo?.info_kind === 'vxlan' && typeof l.linkinfo.info_data?.id === 'number'
      ? { vni: l.linkinfo.info_data.id }
      : {}),
    up: (l.flags ?? []).includes('UP'),
  };
}

export function toRouteInfo(r: JsonRoute, family: 4 | 6): RouteInfo {
  let prefix = r.dst;
  if (prefix === 'default') prefix = family === 4 ? '0.0.0.0/0' : '::/0';
  else if (!prefix.includes('/')) prefix = `${prefix}/${family === 4 ? 32 : 128}`;
  const via = r.gateway ?? r.via?.host;
  return {
    prefix,
    ...(via ? { via } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
    ...(r.protocol && r.protocol !== 'boot' ? { protocol: r.protocol } : {}),
    family,
    flags: r.flags ?? [],
  };
}
