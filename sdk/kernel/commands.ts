// Pure builders of iproute2 batch lines. Each validates its inputs (INVALID_ARGUMENT naming the field)
// and emits only canonical values, so no input can add a line, a quote or a comment to a batch.

import { invalidArgument } from '../errors/index.js';
import type { NeighborSpec, RouteSpec } from './connection-context.js';
import type { NetnsRef } from './iproute2.js';
import {
  checkAlias,
  checkIfName,
  checkMac,
  checkMtu,
  checkNetnsPath,
  checkPort,
  checkVni,
  cidrString,
  networkString,
  parseCidr,
  parseIp,
} from './validate.js';

/** One end of a link: where it lives, its final name, and the alias that marks its owner. */
export interface LinkEnd {
  /** The namespace the link ends up in; null for the namespace the batch runs in. */
  readonly netns: NetnsRef | null;
  readonly name: string;
  /** Ownership mark (e.g. "client-<connection id>"); survives moves between namespaces. */
  readonly alias: string;
  readonly mtu?: number;
  /** MAC address to give the link (e.g. derived from the connection id so the peer's neighbour entry is known up front). */
  readonly mac?: string;
}

export interface VxlanParams {
  readonly vni: number;
  /** Underlay address of this node (must be configured in the underlay namespace). */
  readonly local: string;
  readonly remote: string;
  readonly port: number;
  /** Underlay device, to pin the tunnel to one interface. */
  readonly underlayDev?: string;
  /** Namespace holding the underlay (the node's); null or absent for the caller's own. */
  readonly underlayNetns?: NetnsRef | null;
}

export interface InterfaceConfig {
  readonly addresses: readonly string[];
  readonly routes: readonly RouteSpec[];
  readonly neighbors: readonly NeighborSpec[];
  readonly mtu?: number;
}

function checkEnd(end: LinkEnd, field: string): void {
  checkIfName(end.name, `${field}.name`);
  checkAlias(end.alias, `${field}.alias`);
  if (end.mtu !== undefined) checkMtu(end.mtu, `${field}.mtu`);
  if (end.mac !== undefined) checkMac(end.mac, `${field}.mac`);
  if (end.netns) checkNetnsPath(end.netns.path, `${field}.netns`);
}

const mtuArg = (mtu: number | undefined) => (mtu === undefined ? '' : ` mtu ${mtu}`);
/** MTU and MAC given at creation, so they hold before the link is ever up. */
const createArgs = (end: LinkEnd) =>
  `${mtuArg(end.mtu)}${end.mac === undefined ? '' : ` address ${checkMac(end.mac)}`}`;

/**
 * Moves a freshly created link from the batch's namespace to its end: one `link set` does the move,
 * the rename, the alias and the up, in that order inside the kernel.
 */
export function placeLinkCommand(tmpName: string, end: LinkEnd): string {
  checkIfName(tmpName, 'temporary name');
  checkEnd(end, 'link');
  const netns = end.netns ? ` netns ${end.netns.path}` : '';
  return `link set dev ${tmpName}${netns} name ${end.name} alias ${end.alias} up`;
}

/**
 * A veth pair created under temporary names in the batch's namespace, then each end moved, renamed,
 * marked and brought up in its own namespace. (iproute2 can create each end directly in a namespace
 * with `netns PATH`, but it ignores `alias` on creation and cannot bring the peer up, which would cost
 * one more process per end.)
 */
export function vethPairCommands(a: LinkEnd, b: LinkEnd, tmp: { a: string; b: string }): string[] {
  checkEnd(a, 'a');
  checkEnd(b, 'b');
  checkIfName(tmp.a, 'temporary name');
  checkIfName(tmp.b, 'temporary name');
  if (tmp.a === tmp.b)
    throw invalidArgument(`temporary names must differ, both are ${JSON.stringify(tmp.a)}`);
  if ((a.netns?.path ?? null) === (b.netns?.path ?? null) && a.name === b.name) {
    throw invalidArgument(`both veth ends are named ${JSON.stringify(a.name)} in the same namespace`);
  }
  return [
    `link add name ${tmp.a}${createArgs(a)} type veth peer name ${tmp.b}${createArgs(b)}`,
    placeLinkCommand(tmp.a, a),
    placeLinkCommand(tmp.b, b),
  ];
}

/**
 * A VXLAN netdev created in the underlay namespace (its UDP socket stays there) and moved to its end.
 */
export function vxlanCommands(end: LinkEnd, v: VxlanParams, tmpName: string): string[] {
  checkEnd(end, 'vxlan');
  checkVni(v.vni, 'vni');
  checkPort(v.port, 'port');
  const local = parseIp(v.local, 'local');
  const remote = parseIp(v.remote, 'remote');
  if (local.family !== remote.family) {
    throw invalidArgument(`invalid remote ${JSON.stringify(v.remote)}: family differs from local ${v.local}`);
  }
  const dev = v.underlayDev === undefined ? '' : ` dev ${checkIfName(v.underlayDev, 'underlayDev')}`;
  return [
    `link add name ${checkIfName(tmpName, 'temporary name')}${createArgs(end)} type vxlan id ${v.vni}` +
      ` local ${local.ip} remote ${remote.ip} dstport ${v.port}${dev}`,
    placeLinkCommand(tmpName, end),
  ];
}

/** Addresses, routes and neighbours for one interface, in an order the kernel accepts (up before onlink routes). */
export function configureCommands(ifname: string, cfg: InterfaceConfig): string[] {
  checkIfName(ifname, 'ifname');
  const out = [`link set dev ${ifname}${mtuArg(cfg.mtu === undefined ? undefined : checkMtu(cfg.mtu))} up`];
  cfg.addresses.forEach((a, i) => {
    const c = parseCidr(a, `addresses[${i}]`);
    // No duplicate address detection on a point-to-point link: it would leave the address tentative for ~1 s.
    out.push(`addr replace ${cidrString(c)} dev ${ifname}${c.family === 6 ? ' nodad' : ''}`);
  });
  cfg.routes.forEach((r, i) => {
    const prefix = parseCidr(r.prefix, `routes[${i}].prefix`);
    const net = networkString(prefix);
    if (r.via === undefined || r.via === '') {
      out.push(`route replace ${net} dev ${ifname} scope link`);
      return;
    }
    const via = parseIp(r.via, `routes[${i}].via`);
    if (prefix.family === 6 && via.family === 4) {
      throw invalidArgument(
        `invalid routes[${i}].via ${JSON.stringify(r.via)}: an IPv6 route needs an IPv6 next hop`,
      );
    }
    // An IPv4 route may use an IPv6 next hop (RFC 5549), spelled "via inet6 X".
    const gw = prefix.family === 4 && via.family === 6 ? `inet6 ${via.ip}` : via.ip;
    out.push(`route replace ${net} via ${gw} dev ${ifname} onlink`);
  });
  cfg.neighbors.forEach((n, i) => {
    const ip = parseIp(n.ip, `neighbors[${i}].ip`);
    const mac = checkMac(n.mac, `neighbors[${i}].mac`);
    out.push(`neigh replace ${ip.ip} lladdr ${mac} dev ${ifname} nud permanent`);
  });
  return out;
}

export function deleteLinkCommands(name: string): string[] {
  return [`link del dev ${checkIfName(name, 'name')}`];
}
