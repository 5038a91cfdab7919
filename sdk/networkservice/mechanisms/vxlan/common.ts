// Pure planning for the forwarder's VXLAN mechanism: parameter checks, the tunnel MTU and the plan of
// one VXLAN end (a KERNEL end of this node facing a remote node). No I/O, so tests need no root.
import { Address4, Address6 } from 'ip-address';
import type { Mechanism } from '../../../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../../../errors/index.js';
import {
  interfaceConfig,
  type KernelPlan,
  linkAlias,
  macFor,
  type PlanInput,
  type PlannedEnd,
} from '../../xconnect/mechanism.js';
import {
  KERNEL,
  PARAM_DST_IP,
  PARAM_DST_PORT,
  PARAM_NAME,
  PARAM_SRC_IP,
  PARAM_VNI,
  VXLAN,
} from '../common.js';
import { netnsOf } from '../kernel/common.js';
import { MAX_VNI } from './vni.js';

/** Bytes VXLAN adds on an IPv4 underlay: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14). */
export const VXLAN_OVERHEAD_V4_BYTES = 50;
/** The same on an IPv6 underlay (outer IPv6 is 40 bytes). */
export const VXLAN_OVERHEAD_V6_BYTES = 70;

/** The largest inner MTU a VXLAN netdev can carry over an underlay link of `underlayMtu`. */
export function tunnelMtu(underlayMtu: number, tunnelIP: string): number {
  return underlayMtu - (Address6.isValid(tunnelIP) ? VXLAN_OVERHEAD_V6_BYTES : VXLAN_OVERHEAD_V4_BYTES);
}

export function isIP(s: string): boolean {
  return Address4.isValid(s) || Address6.isValid(s);
}

export function vniOf(m: Mechanism, where: string): number {
  const raw = m.parameters[PARAM_VNI] ?? '';
  const vni = Number(raw);
  if (!/^\d+$/.test(raw) || vni < 1 || vni > MAX_VNI) {
    throw invalidArgument(
      `${where} parameter "${PARAM_VNI}" must be a number from 1 to ${MAX_VNI}, got "${raw}"`,
    );
  }
  return vni;
}

export function ipParam(m: Mechanism, key: string, where: string): string {
  const v = m.parameters[key] ?? '';
  if (!isIP(v)) throw invalidArgument(`${where} parameter "${key}" must be an IP address, got "${v}"`);
  const why = notUnicast(v);
  if (why)
    throw invalidArgument(`${where} parameter "${key}" must be a unicast address, got "${v}" (${why})`);
  return v;
}

/** Why a tunnel endpoint address cannot be one (the kernel would refuse it, or flood), or undefined. */
export function notUnicast(ip: string): string | undefined {
  if (!ip.includes(':')) {
    const [a] = ip.split('.').map(Number);
    if (ip === '0.0.0.0') return 'unspecified';
    if (ip === '255.255.255.255') return 'broadcast';
    if (a >= 224 && a <= 239) return 'multicast';
    return undefined;
  }
  const lower = ip.toLowerCase();
  if (/^(0*:)*:?0*$/.test(lower) || lower === '::') return 'unspecified';
  if (lower.startsWith('ff')) return 'multicast';
  return undefined;
}

export interface VxlanTunnel {
  readonly vni: number;
  readonly local: string;
  readonly remote: string;
  readonly port: number;
}

export interface VxlanPlan extends KernelPlan {
  readonly kind: 'vxlan';
  readonly end: PlannedEnd;
  readonly tunnel: VxlanTunnel;
  /** The VNI was chosen by the peer (we are the client side), so this node must claim it. */
  readonly claimVni: boolean;
}

export interface VxlanSettings {
  readonly tunnelIP: string;
  readonly port: number;
  /** MTU of VXLAN netdevs (see `tunnelMtu`); a context may ask for less, never for more. */
  readonly mtu: number;
}

/**
 * One side KERNEL, the other VXLAN: a VXLAN netdev in the KERNEL side's namespace towards the peer.
 * Outgoing VXLAN (we are the client side): the peer answered its address, port and VNI. Incoming VXLAN
 * (we are the endpoint side): the peer's address came in `src_ip`, the VNI is the one we answered.
 */
export function planVxlan(input: PlanInput, s: VxlanSettings): VxlanPlan | undefined {
  const { conn, incoming, outgoing, owner } = input;
  const inType = incoming.mechanism.type;
  const outType = outgoing.mechanism.type;
  const clientSide = inType === KERNEL && outType === VXLAN;
  if (!clientSide && !(inType === VXLAN && outType === KERNEL)) return undefined;
  const side = clientSide ? 'client' : 'endpoint';
  const kernelEnd = clientSide ? incoming : outgoing;
  const mtu = Math.min(conn.context?.MTU || s.mtu, s.mtu);
  const end: PlannedEnd = {
    netns: netnsOf(kernelEnd, side),
    name: kernelEnd.mechanism.parameters[PARAM_NAME],
    alias: linkAlias(owner, conn.id, side),
    mtu,
    mac: macFor(conn.id, side),
    config: interfaceConfig(side, conn.context?.ipContext, mtu, undefined, conn.id),
  };
  const tunnel: VxlanTunnel = clientSide
    ? {
        vni: vniOf(outgoing.mechanism, 'returned VXLAN mechanism'),
        local: s.tunnelIP,
        remote: ipParam(outgoing.mechanism, PARAM_DST_IP, 'returned VXLAN mechanism'),
        port: Number(outgoing.mechanism.parameters[PARAM_DST_PORT] || s.port),
      }
    : {
        vni: vniOf(incoming.mechanism, 'VXLAN mechanism'),
        local: s.tunnelIP,
        remote: ipParam(incoming.mechanism, PARAM_SRC_IP, 'VXLAN mechanism'),
        port: s.port,
      };
  return { kind: 'vxlan', end, tunnel, claimVni: clientSide };
}
