// The forwarder's KERNEL mechanism: an interface in a pod's network namespace. Incoming (a local
// client) its `inodeURL` is resolved when the request arrives; outgoing (a local endpoint) when the
// endpoint answered. Two KERNEL ends on this node are joined by a veth pair:
//
//   [client ns] nsm-1 ══════ veth pair ══════ nse-x [endpoint ns]
//
// created from the client namespace, whose set-up then shares the create batch (2 processes, not 3).
// A KERNEL end facing a remote node is the VXLAN mechanism's work (mechanisms/vxlan/forwarder.ts).
import type { Connection, Mechanism } from '../../../../api/gen/networkservice/connection.js';
import { invalidArgument } from '../../../errors/index.js';
import type { Dataplane, NetnsResolver } from '../../../kernel/index.js';
import {
  type Accepted,
  type ApplyIO,
  deleteLinks,
  type End,
  type KernelPlan,
  type MadeLink,
  type PlanInput,
  requireParam,
  type XconnectMechanism,
} from '../../xconnect/mechanism.js';
import { CLS_LOCAL, KERNEL, mechanism, PARAM_INODE_URL, PARAM_NAME } from '../common.js';
import { interfaceName, planVeth, type VethPlan } from './common.js';

export interface KernelForwarderOptions {
  /** Turns a mechanism's `inodeURL` into a namespace path (the daemon's one resolver; a fake in tests). */
  readonly resolver: NetnsResolver;
  /** MTU of a veth pair when the connection context does not ask for one. */
  readonly vethMtu: number;
}

class KernelForwarderMechanism implements XconnectMechanism {
  readonly type = KERNEL;

  constructor(private readonly opts: KernelForwarderOptions) {}

  async accept(conn: Connection, chosen: Mechanism): Promise<Accepted> {
    const params = { ...chosen.parameters };
    params[PARAM_NAME] = interfaceName(conn, chosen, 'KERNEL mechanism');
    if (!params[PARAM_INODE_URL]) {
      throw invalidArgument(
        `KERNEL mechanism parameter "${PARAM_INODE_URL}" is missing: say which network namespace gets the interface (inode://DEV/INO or file:///proc/PID/ns/net or file:///var/run/netns/NAME)`,
      );
    }
    const { path } = await this.opts.resolver.resolve(params[PARAM_INODE_URL]);
    return { mechanism: mechanism(chosen.cls, KERNEL, params), netns: { path }, reserved: false };
  }

  async resolve(conn: Connection, answered: Mechanism): Promise<End> {
    const params = {
      ...answered.parameters,
      [PARAM_NAME]: interfaceName(conn, answered, 'endpoint KERNEL mechanism'),
    };
    const url = requireParam(answered, PARAM_INODE_URL, 'endpoint KERNEL');
    const { path } = await this.opts.resolver.resolve(url);
    return { mechanism: { ...answered, parameters: params }, netns: { path } };
  }

  offer(url: string): Mechanism | undefined {
    // A unix socket is a local endpoint: its pod's namespace is reachable from here.
    return url.startsWith('unix:') ? mechanism(CLS_LOCAL, KERNEL, {}) : undefined;
  }

  plan(input: PlanInput): KernelPlan | undefined {
    return planVeth(input, this.opts.vethMtu);
  }

  async apply(p: KernelPlan, io: ApplyIO): Promise<void> {
    const { client, endpoint } = p as VethPlan;
    // One end deleted takes its peer with it, so the client end is all there is to remember.
    const made: MadeLink[] = [{ netns: client.netns, name: client.name }];
    // Links an earlier run of this forwarder made for this connection (see xconnect/reconcile.ts).
    const adoptedClient = io.rebuilding ? undefined : await io.adopt(client.alias, client.netns);
    const adoptedEndpoint = io.rebuilding ? undefined : await io.adopt(endpoint.alias, endpoint.netns);
    if (adoptedClient?.name === client.name && adoptedEndpoint?.name === endpoint.name) {
      io.record(made);
      await io.dataplane.configureInterfaces(
        [
          { netns: client.netns, ifname: client.name, config: client.config },
          { netns: endpoint.netns, ifname: endpoint.name, config: endpoint.config },
        ],
        { signal: io.signal },
      );
      return;
    }
    for (const l of [adoptedClient, adoptedEndpoint]) if (l) await io.discard(l);
    await io.dataplane.createVethPair(client, endpoint, { netns: client.netns, signal: io.signal });
    io.record(made);
  }

  remove(links: readonly MadeLink[], dataplane: Dataplane): Promise<void> {
    return deleteLinks(dataplane, links);
  }

  release(): void {
    // accept reserves nothing.
  }
}

/** The KERNEL mechanism for xconnect: listed in the forwarder's mechanisms (forwarder/server.ts). */
export function newForwarderMechanism(opts: KernelForwarderOptions): XconnectMechanism {
  if (!opts.resolver) throw new TypeError('kernel.newForwarderMechanism: a netns resolver is required');
  return new KernelForwarderMechanism(opts);
}
