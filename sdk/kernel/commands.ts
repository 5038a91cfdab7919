// Pure builders of iproute2 batch lines. Each validates its inputs (INVALID_ARGUMENT naming the field)
// and emits only canonical values, so no input can add a line, a quote or a comment to a batch.

import { invalidArgument } from '../errors/index.js';
import type { NeighborSpec, RouteSpec } from './connection-context.js';
import type { NetnsRef } from './iproute2.js';
import { type PolicyConfig, policyCommands } from './policy.js';
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
  /** The namespace the link lives in; null for the namespace that creates it. */
  readonly netns: NetnsRef | null;
  readonly name: string;
  /** Ownership mark (e.g. "client-<connection id>"); survives moves between namespaces. */
  readonly alias: string;
  readonly mtu?: number;
  /** MAC address to give the link (e.g. derived from the connection id so the peer's neighbour entry is known up front). */
  readonly mac?: string;
  /** Configuration applied in the same batch that sets the alias and brings the link up (saves a process). */
  readonly config?: InterfaceConfig;
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
  /** Policy routes (rules + tables) of the connection; see policy.ts. Rules are not idempotent: clear first. */
  readonly policies?: PolicyConfig;
}

function checkEnd(end: LinkEnd, field: string): void {
  checkIfName(end.name, `${field}.name`);
  checkAlias(end.alias, `${field}.alias`);
  if (end.mtu !== undefined) checkMtu(end.mtu, `${field}.mtu`);
  if (end.mac !== undefined) checkMac(end.mac, `${field}.mac`);
  if (end.netns) checkNetnsPath(end.netns.path, `${field}.netns`);
}

const mtuArg = (mtu: number | undefined) => (mtu === undefined ? '' : ` mtu ${mtu}`);

/** Target namespace, MTU and MAC of a link being created: it is born where it belongs, already sized. */
function createArgs(end: LinkEnd): string {
  const netns = end.netns ? ` netns ${end.netns.path}` : '';
  const mac = end.mac === undefined ? '' : ` address ${checkMac(end.mac)}`;
  return `${netns}${mtuArg(end.mtu)}${mac}`;
}

/**
 * Creates a veth pair with each end directly in its namespace (`netns PATH` on both sides), from the
 * namespace the batch runs in. Nothing appears there, so no name can collide with the caller's links;
 * a name taken in a target namespace fails the whole line ("File exists") and nothing is created.
 * Run `setupCommands` for each end afterwards, in its namespace.
 */
export function vethCreateCommand(a: LinkEnd, b: LinkEnd): string {
  checkEnd(a, 'a');
  checkEnd(b, 'b');
  if ((a.netns?.path ?? null) === (b.netns?.path ?? null) && a.name === b.name) {
    throw invalidArgument(`both veth ends are named ${JSON.stringify(a.name)} in the same namespace`);
  }
  return `link add name ${a.name}${createArgs(a)} type veth peer name ${b.name}${createArgs(b)}`;
}

/**
 * Creates a VXLAN netdev from the underlay namespace (the batch's) directly in the end's namespace.
 * The tunnel's UDP socket belongs to the namespace the netdev was created from, so it keeps using the
 * node's underlay. Run `setupCommands` for the end afterwards, in its namespace.
 */
export function vxlanCreateCommand(end: LinkEnd, v: VxlanParams): string {
  checkEnd(end, 'vxlan');
  checkVni(v.vni, 'vni');
  checkPort(v.port, 'port');
  const local = parseIp(v.local, 'local');
  const remote = parseIp(v.remote, 'remote');
  if (local.family !== remote.family) {
    throw invalidArgument(
      `VXLAN tunnel addresses must be of one family: local ${v.local}, remote ${JSON.stringify(v.remote)}`,
    );
  }
  const dev = v.underlayDev === undefined ? '' : ` dev ${checkIfName(v.underlayDev, 'underlayDev')}`;
  return (
    `link add name ${end.name}${createArgs(end)} type vxlan id ${v.vni}` +
    ` local ${local.ip} remote ${remote.ip} dstport ${v.port}${dev}`
  );
}

/**
 * What a new link needs inside its own namespace: the ownership alias and up (iproute2 ignores
 * `alias` on creation and cannot bring a veth peer up there), then its configuration if it has one.
 */
export function setupCommands(end: LinkEnd): string[] {
  checkEnd(end, 'link');
  const mtu = end.config?.mtu === undefined ? '' : mtuArg(checkMtu(end.config.mtu, 'config.mtu'));
  return [
    `link set dev ${end.name} alias ${end.alias}${mtu} up`,
    ...(end.config ? configBody(end.name, end.config) : []),
  ];
}

/** Addresses, routes and neighbours for one interface, in an order the kernel accepts (up before onlink routes). */
export function configureCommands(ifname: string, cfg: InterfaceConfig): string[] {
  checkIfName(ifname, 'ifname');
  const mtu = cfg.mtu === undefined ? '' : mtuArg(checkMtu(cfg.mtu));
  return [`link set dev ${ifname}${mtu} up`, ...configBody(ifname, cfg)];
}

function configBody(ifname: string, cfg: InterfaceConfig): string[] {
  const out: string[] = [];
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
  if (cfg.policies) out.push(...policyCommands(ifname, cfg.policies));
  return out;
}

export function deleteLinkCommands(name: string): string[] {
  return [`link del dev ${checkIfName(name, 'name')}`];
}
