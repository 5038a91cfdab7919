// The forwarder's VXLAN mechanism: a tunnel to another node. Incoming (a remote forwarder asks us)
// we answer with our tunnel address and a VNI; outgoing (towards a remote nsmgr) we offer our tunnel
// address and the peer answers with its own and the VNI. Joined with a KERNEL end of this node:
//
//   [client ns] nsm-1 ~vxlan~ (node1 underlay) ... (node2 underlay) ~vxlan~ nse-x [endpoint ns]
//
// Each VXLAN netdev is created from the node namespace (which owns the underlay socket) straight into
// the pod namespace: no extra hop. VNIs are node-wide (VniAllocator): the kernel refuses two netdevs
// with one VNI on one port.
import type { Connection, Mechanism } from '../../../../api/gen/networkservice/connection.js';
import type { Dataplane } from '../../../kernel/index.js';
import {
  type Accepted,
  type ApplyIO,
  deleteLinks,
  type End,
  type KernelPlan,
  type MadeLink,
  type PlanInput,
  policyRecord,
  type XconnectMechanism,
} from '../../xconnect/mechanism.js';
import {
  CLS_REMOTE,
  mechanism,
  PARAM_DST_IP,
  PARAM_DST_PORT,
  PARAM_SRC_IP,
  PARAM_SRC_PORT,
  PARAM_VNI,
  VXLAN,
} from '../common.js';
import { ipParam, planVxlan, tunnelMtu, type VxlanPlan, type VxlanSettings, vniOf } from './common.js';
import type { VniAllocator } from './vni.js';

export interface VxlanForwarderOptions extends VxlanSettings {
  /** The node's VNIs in use, shared with the restart reconciler. */
  readonly vni: VniAllocator;
}

class VxlanForwarderMechanism implements XconnectMechanism {
  readonly type = VXLAN;

  constructor(private readonly opts: VxlanForwarderOptions) {}

  async accept(_conn: Connection, chosen: Mechanism, previous: Mechanism | undefined): Promise<Accepted> {
    // A refresh keeps what this hop agreed before (same VNI), even if the caller forgot it.
    if (
      previous?.type === VXLAN &&
      !chosen.parameters[PARAM_VNI] &&
      previous.parameters[PARAM_SRC_IP] === chosen.parameters[PARAM_SRC_IP]
    ) {
      chosen = previous;
    }
    const params = { ...chosen.parameters };
    const srcIP = ipParam(chosen, PARAM_SRC_IP, 'VXLAN mechanism');
    params[PARAM_DST_IP] = this.opts.tunnelIP;
    params[PARAM_DST_PORT] = String(this.opts.port);
    let reserved = false;
    if (params[PARAM_VNI]) {
      const vni = vniOf(chosen, 'VXLAN mechanism');
      // Already held: by this connection (a refresh) or by the restart reconciler for it.
      if (previous?.parameters[PARAM_VNI] !== params[PARAM_VNI] && !this.opts.vni.has(vni)) {
        this.opts.vni.claim(vni);
        reserved = true;
      }
    } else {
      params[PARAM_VNI] = String(this.opts.vni.allocate(srcIP, this.opts.tunnelIP));
      reserved = true;
    }
    return { mechanism: mechanism(chosen.cls || CLS_REMOTE, VXLAN, params), reserved };
  }

  async resolve(_conn: Connection, answered: Mechanism): Promise<End> {
    return { mechanism: answered }; // checked by plan (pure): nothing to look up
  }

  offer(url: string): Mechanism | undefined {
    if (url.startsWith('unix:')) return undefined;
    return mechanism(CLS_REMOTE, VXLAN, {
      [PARAM_SRC_IP]: this.opts.tunnelIP,
      [PARAM_SRC_PORT]: String(this.opts.port),
    });
  }

  plan(input: PlanInput): KernelPlan | undefined {
    return planVxlan(input, this.opts);
  }

  async apply(p: KernelPlan, io: ApplyIO): Promise<void> {
    const { end, tunnel } = p as VxlanPlan;
    const made: MadeLink[] = [{ netns: end.netns, name: end.name, vni: tunnel.vni, ...policyRecord(end) }];
    const adopted = io.rebuilding ? undefined : await io.adopt(end.alias, end.netns);
    if (adopted?.name === end.name && adopted.kind === 'vxlan' && adopted.vni === tunnel.vni) {
      io.record(made);
      await io.dataplane.configureInterface(end.netns, end.name, end.config, { signal: io.signal });
      return;
    }
    if (adopted) await io.discard(adopted);
    // Rebuilding released the VNI with the old links: claim it again even on the endpoint side.
    const claim = (p as VxlanPlan).claimVni || io.rebuilding;
    if (claim) this.opts.vni.claim(tunnel.vni);
    try {
      await io.dataplane.createVxlan(end, tunnel, { signal: io.signal });
    } catch (e) {
      if (claim) this.opts.vni.release(tunnel.vni);
      throw e;
    }
    io.record(made);
  }

  async remove(links: readonly MadeLink[], dataplane: Dataplane): Promise<void> {
    try {
      await deleteLinks(dataplane, links);
    } finally {
      for (const l of links) if (l.vni !== undefined) this.opts.vni.release(l.vni);
    }
  }

  release(incoming: Mechanism): void {
    if (incoming.type === VXLAN && incoming.parameters[PARAM_VNI])
      this.opts.vni.release(Number(incoming.parameters[PARAM_VNI]));
  }
}

/** The VXLAN mechanism for xconnect: listed in the forwarder's mechanisms (forwarder/server.ts). */
export function newForwarderMechanism(opts: VxlanForwarderOptions): XconnectMechanism {
  if (!opts.vni) throw new TypeError('vxlan.newForwarderMechanism: a VNI allocator is required');
  return new VxlanForwarderMechanism(opts);
}

/**
 * The VXLAN MTU of this node: the MTU of the interface holding the tunnel address (in the forwarder's
 * own namespace), minus the VXLAN overhead.
 */
export async function nodeTunnelMtu(dataplane: Dataplane, tunnelIP: string): Promise<number> {
  const underlay = await dataplane.findAddressOwner(null, tunnelIP);
  if (!underlay) {
    throw new Error(
      `NSM_TUNNEL_IP: ${tunnelIP} is not an address of any interface in the forwarder's namespace`,
    );
  }
  return tunnelMtu(underlay.mtu, tunnelIP);
}
