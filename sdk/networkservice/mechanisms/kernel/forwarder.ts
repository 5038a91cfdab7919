// The forwarder's KERNEL mechanism: an interface in a pod's network namespace. Incoming (a local
// client) its `inodeURL` is resolved when the request arrives; outgoing (a local endpoint) when the
// endpoint answered. Two KERNEL ends on this node are joined by a veth pair:
//
//   [client ns] nsm-1 ══════ veth pair ══════ nse-x [endpoint ns]
//
// created from the client namespace, whose set-up then shares the create batch. Both namespaces
// are handed to the dataplane as soon as they are known (`prepare`), so a busy namespace's (the
// endpoint's) long-lived `ip` is started while the request travels to the endpoint.
//
// The endpoint end's name comes from the endpoint (generated with 4 random characters when it asks
// for none); with hundreds of connections into one endpoint namespace such a name can be taken. A
// create refused with "File exists" is checked (is it the endpoint end's name?) and retried under a
// new name, which goes back into the outgoing mechanism (the endpoint keeps it on refresh).
//
// Close deletes the endpoint end (its peer goes with it): the endpoint's namespace is the busy one,
// whose long-lived process is warm, while a pod's process has usually exited by then.
// A KERNEL end facing a remote node is the VXLAN mechanism's work (mechanisms/vxlan/forwarder.ts).

import { status } from '@grpc/grpc-js';
import type { Connection, Mechanism } from '../../../../api/gen/networkservice/connection.js';
import { invalidArgument, isNsmError } from '../../../errors/index.js';
import type { Dataplane, NetnsResolver } from '../../../kernel/index.js';
import {
  type Accepted,
  type ApplyIO,
  type End,
  type KernelPlan,
  type MadeLink,
  type PlanInput,
  type PlannedEnd,
  policyRecord,
  requireParam,
  type XconnectMechanism,
} from '../../xconnect/mechanism.js';
import {
  CLS_LOCAL,
  KERNEL,
  mechanism,
  PARAM_INODE_URL,
  PARAM_NAME,
  regenerateInterfaceName,
} from '../common.js';
import { interfaceName, planVeth, type VethPlan } from './common.js';

export interface KernelForwarderOptions {
  /** Turns a mechanism's `inodeURL` into a namespace path (the daemon's one resolver; a fake in tests). */
  readonly resolver: NetnsResolver;
  /** MTU of a veth pair when the connection context does not ask for one. */
  readonly vethMtu: number;
  /** Told which namespaces get work soon, so it can start their processes early (optional). */
  readonly dataplane?: Pick<Dataplane, 'prepare'>;
  /** How many names the endpoint end tries when its name is taken (default 8). */
  readonly nameAttempts?: number;
  /** A new name for an endpoint end whose name is taken (tests make collisions certain). */
  readonly renameEndpoint?: (taken: string) => string;
}

const DEFAULT_NAME_ATTEMPTS = 8;

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
    this.opts.dataplane?.prepare({ path });
    return { mechanism: mechanism(chosen.cls, KERNEL, params), netns: { path }, reserved: false };
  }

  async resolve(conn: Connection, answered: Mechanism): Promise<End> {
    const params = {
      ...answered.parameters,
      [PARAM_NAME]: interfaceName(conn, answered, 'endpoint KERNEL mechanism'),
    };
    const url = requireParam(answered, PARAM_INODE_URL, 'endpoint KERNEL');
    const { path } = await this.opts.resolver.resolve(url);
    this.opts.dataplane?.prepare({ path });
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
    const { client } = p as VethPlan;
    let { endpoint } = p as VethPlan;
    // One end deleted takes its peer with it: `remove` deletes the first of these that exists.
    const made = (e: PlannedEnd): MadeLink[] => [
      { netns: e.netns, name: e.name },
      { netns: client.netns, name: client.name, ...policyRecord(client) },
    ];
    // Links an earlier run of this forwarder made for this connection (see xconnect/reconcile.ts).
    const adoptedClient = io.rebuilding ? undefined : await io.adopt(client.alias, client.netns);
    const adoptedEndpoint = io.rebuilding ? undefined : await io.adopt(endpoint.alias, endpoint.netns);
    if (adoptedClient?.name === client.name && adoptedEndpoint?.name === endpoint.name) {
      io.record(made(endpoint));
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
    const attempts = this.opts.nameAttempts ?? DEFAULT_NAME_ATTEMPTS;
    for (let attempt = 1; ; attempt++) {
      try {
        // Created from the endpoint's namespace: its `ip` is a long-lived one already, while the
        // client pod's may still be starting (ip-fifo.ts); the ends are then set up in parallel.
        await io.dataplane.createVethPair(client, endpoint, { netns: endpoint.netns, signal: io.signal });
        break;
      } catch (e) {
        if (!isNsmError(e) || e.code !== status.ALREADY_EXISTS || attempt >= attempts) throw e;
        // "File exists" does not say which end: only the endpoint end's name is ours to change.
        if (!(await io.dataplane.linkExists(endpoint.netns, endpoint.name, { signal: io.signal }))) throw e;
        endpoint = {
          ...endpoint,
          name: (this.opts.renameEndpoint ?? regenerateInterfaceName)(endpoint.name),
        };
      }
    }
    if (endpoint.name !== (p as VethPlan).endpoint.name) io.updateOutgoing({ [PARAM_NAME]: endpoint.name });
    io.record(made(endpoint));
  }

  async remove(links: readonly MadeLink[], dataplane: Dataplane): Promise<void> {
    // Both ends of one veth pair: deleting one removes both, so stop at the first that was there.
    for (const l of links) if (await dataplane.deleteLink(l.netns, l.name)) return;
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
