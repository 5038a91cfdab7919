// What `ip -json` prints, parsed: links, addresses, routes. A link's traffic counters (the kernel's
// stats64, which the stats element puts on the forwarder's path segment) are read per namespace by
// link-stats-cache.ts.
import type { LinkInfo, RouteInfo } from './dataplane.js';

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
