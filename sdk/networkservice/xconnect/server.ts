// xconnect is the forwarder's data plane. Going down, it accepts the incoming hop's mechanism
// (KERNEL from a local client: resolve its namespace; VXLAN from a remote node: take the peer's
// address, give ours and a VNI). Coming back, once the next hop answered with its own mechanism
// (see client.ts), it builds the connection in the kernel and applies the connection context:
//
//   local:   [client ns] nsm-1 ====== veth pair ====== nse-x [endpoint ns]
//   remote:  [client ns] nsm-1 ~vxlan~ (node1 underlay) ... (node2 underlay) ~vxlan~ nse-x [endpoint ns]
//
// Each VXLAN netdev is created in the node namespace (which owns the underlay socket) and placed
// straight into the pod namespace: no extra hop. Every link carries an alias naming its owner
// connection, so a restarted forwarder can find what it made. Close removes what was made.

import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import { Address4, Address6 } from 'ip-address';
import pLimit, { type LimitFunction } from 'p-limit';
import type { Connection, Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { invalidArgument, NsmError, wrap } from '../../errors/index.js';
import {
  contextPlan,
  type Dataplane,
  type InterfaceConfig,
  type NetnsRef,
  resolveNetns,
} from '../../kernel/index.js';
import { logger } from '../../tools/log.js';
import {
  CLS_REMOTE,
  describeTypes,
  generateInterfaceName,
  KERNEL,
  mechanism,
  PARAM_DST_IP,
  PARAM_DST_PORT,
  PARAM_INODE_URL,
  PARAM_NAME,
  PARAM_SRC_IP,
  PARAM_VNI,
  VXLAN,
  validateInterfaceName,
} from '../mechanisms/common.js';
import { MAX_VNI, type VniAllocator } from '../mechanisms/vxlan/vni.js';
import * as metadata from '../metadata/index.js';
import { INCOMING_KEY, OUTGOING_MECHANISM_KEY, PROGRAMMED_KEY } from './common.js';
import { linkAlias, type OrphanLink, ownerTag, type Reconciler } from './reconcile.js';

const log = logger('xconnect');

export interface XconnectOptions {
  dataplane: Dataplane;
  vni: VniAllocator;
  /** The forwarder's name, written into link aliases. */
  name: string;
  tunnelIP: string;
  vxlanPort: number;
  /** MTU of local veth pairs when the connection context does not ask for one. */
  vethMtu: number;
  /** MTU of VXLAN netdevs: the underlay MTU minus the VXLAN overhead. */
  vxlanMtu: number;
  /** Links of an earlier run of this forwarder, to adopt (restart reconciliation). */
  reconciler?: Reconciler;
  /** How many connections are programmed into the kernel at once. */
  kernelConcurrency?: number;
}

export const DEFAULT_KERNEL_CONCURRENCY = 8;

/** A kernel object this connection owns, enough to remove it. */
interface MadeLink {
  netns: NetnsRef;
  name: string;
  vni?: number;
}

interface PlannedEnd {
  netns: NetnsRef;
  name: string;
  alias: string;
  mtu: number;
  mac: string;
  config: InterfaceConfig;
}

interface VxlanPlan {
  vni: number;
  local: string;
  remote: string;
  port: number;
}

type KernelPlan =
  | { kind: 'veth'; client: PlannedEnd; endpoint: PlannedEnd }
  /** claimVni: the VNI was chosen by the peer (we are the client side), so we must claim it here. */
  | { kind: 'vxlan'; end: PlannedEnd; params: VxlanPlan; claimVni: boolean };

interface Programmed {
  fingerprint: string;
  links: MadeLink[];
}

function isIP(s: string): boolean {
  return Address4.isValid(s) || Address6.isValid(s);
}

function vniOf(m: Mechanism, where: string): number {
  const raw = m.parameters[PARAM_VNI] ?? '';
  const vni = Number(raw);
  if (!/^\d+$/.test(raw) || vni < 1 || vni > MAX_VNI) {
    throw invalidArgument(
      `${where} parameter "${PARAM_VNI}" must be a number from 1 to ${MAX_VNI}, got "${raw}"`,
    );
  }
  return vni;
}

function ipParam(m: Mechanism, key: string, where: string): string {
  const v = m.parameters[key] ?? '';
  if (!isIP(v)) throw invalidArgument(`${where} parameter "${key}" must be an IP address, got "${v}"`);
  return v;
}

/** A locally administered unicast MAC derived from the connection, stable across refreshes. */
function macFor(connId: string, side: string): string {
  const h = createHash('sha256').update(`${connId}/${side}`).digest();
  h[0] = (h[0] & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

class XconnectServer implements NetworkServiceServer {
  private readonly owner: string;
  private readonly kernelSlots: LimitFunction;

  constructor(private readonly opts: XconnectOptions) {
    this.owner = ownerTag(opts.name, opts.tunnelIP);
    this.kernelSlots = pLimit(opts.kernelConcurrency ?? DEFAULT_KERNEL_CONCURRENCY);
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const previous = metadata.load<Mechanism>(ctx, false, INCOMING_KEY);
    const {
      mechanism: incoming,
      tookVni,
      clientNetns,
    } = await this.acceptIncoming(conn, req.mechanismPreferences, previous);
    conn.mechanism = incoming;
    metadata.store(ctx, false, INCOMING_KEY, incoming);
    let result: Connection;
    try {
      result = await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (tookVni) this.opts.vni.release(Number(incoming.parameters[PARAM_VNI]));
      throw e;
    }
    const outgoing = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    // A refresh of a connection whose kernel state works: a caller that gave up (a stale refresh
    // replayed by an nsmgr that hung) must not take that state, or the path behind it, away.
    const working = metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY) !== undefined;
    let untouched = false;
    try {
      // Admission control: a burst of requests is programmed a few at a time, so each finishes in
      // order instead of all of them sharing the CPU and missing their deadlines together.
      await this.kernelSlots(() => {
        if (ctx.signal.aborted) {
          untouched = true;
          throw new NsmError(status.CANCELLED, 'the caller gave up before the kernel was set up');
        }
        return this.program(ctx, result, incoming, outgoing, clientNetns);
      });
    } catch (e) {
      const err = wrap(e, `failed to set up connection ${conn.id} in the kernel`);
      if (working && untouched) throw err;
      const { ctx: closeCtx, cancel } = postpone(ctx)();
      await this.close(closeCtx, result).catch((closeErr: unknown) => {
        log.warn({ err: closeErr, id: conn.id }, 'clean-up after a failed set-up also failed');
      });
      cancel();
      throw err;
    }
    result.mechanism = incoming;
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const programmed = metadata.loadAndDelete<Programmed>(ctx, false, PROGRAMMED_KEY);
    const incoming = metadata.loadAndDelete<Mechanism>(ctx, false, INCOMING_KEY);
    if (incoming?.type === VXLAN && !programmed)
      this.opts.vni.release(Number(incoming.parameters[PARAM_VNI]));
    // Our links and the rest of the path are independent: remove them at the same time (each
    // kernel delete of a veth or VXLAN netdev takes tens of milliseconds).
    const [local, downstream] = await Promise.allSettled([
      programmed ? this.removeLinks(programmed.links) : Promise.resolve(),
      next.server(ctx).close(ctx, conn),
    ]);
    if (local.status === 'rejected') throw local.reason;
    if (downstream.status === 'rejected') throw downstream.reason;
  }

  private async removeLinks(links: MadeLink[]): Promise<void> {
    log.debug({ links: links.map((l) => `${l.netns.path}:${l.name}`) }, 'removing links');
    const results = await Promise.allSettled(
      links.map((l) => this.opts.dataplane.deleteLink(l.netns, l.name)),
    );
    for (const l of links) if (l.vni !== undefined) this.opts.vni.release(l.vni);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Chooses and completes the mechanism of the hop that called us. */
  private async acceptIncoming(
    conn: Connection,
    prefs: Mechanism[],
    previous?: Mechanism,
  ): Promise<{ mechanism: Mechanism; tookVni: boolean; clientNetns?: NetnsRef }> {
    const supported = (m: Mechanism | undefined) => m && (m.type === KERNEL || m.type === VXLAN);
    let chosen = supported(conn.mechanism) ? conn.mechanism! : prefs.find((m) => supported(m));
    // A refresh keeps what this hop agreed before (same VNI), even if the caller forgot it.
    if (
      chosen?.type === VXLAN &&
      previous?.type === VXLAN &&
      !chosen.parameters[PARAM_VNI] &&
      previous.parameters[PARAM_SRC_IP] === chosen.parameters[PARAM_SRC_IP]
    ) {
      chosen = previous;
    }
    if (!chosen) {
      throw new NsmError(
        status.INVALID_ARGUMENT,
        `no supported mechanism in mechanism_preferences (got ${describeTypes(prefs)}; this forwarder supports ${KERNEL} and ${VXLAN})`,
      );
    }
    if (chosen.type === KERNEL) {
      const params = { ...chosen.parameters };
      const name = params[PARAM_NAME] ?? '';
      validateInterfaceName(name, 'KERNEL mechanism parameter "name"');
      params[PARAM_NAME] = name || generateInterfaceName(conn.networkService);
      if (!params[PARAM_INODE_URL]) {
        throw invalidArgument(
          `KERNEL mechanism parameter "${PARAM_INODE_URL}" is missing: say which network namespace gets the interface (inode://DEV/INO or file:///proc/PID/ns/net or file:///var/run/netns/NAME)`,
        );
      }
      const clientNetns = { path: (await resolveNetns(params[PARAM_INODE_URL])).path };
      return { mechanism: mechanism(chosen.cls, KERNEL, params), tookVni: false, clientNetns };
    }
    const params = { ...chosen.parameters };
    const srcIP = ipParam(chosen, PARAM_SRC_IP, 'VXLAN mechanism');
    params[PARAM_DST_IP] = this.opts.tunnelIP;
    params[PARAM_DST_PORT] = String(this.opts.vxlanPort);
    let tookVni = false;
    if (params[PARAM_VNI]) {
      const vni = vniOf(chosen, 'VXLAN mechanism');
      // Already held: by this connection (a refresh) or by the restart reconciler for it.
      if (previous?.parameters[PARAM_VNI] !== params[PARAM_VNI] && !this.opts.vni.has(vni)) {
        this.opts.vni.claim(vni);
        tookVni = true;
      }
    } else {
      params[PARAM_VNI] = String(this.opts.vni.allocate(srcIP, this.opts.tunnelIP));
      tookVni = true;
    }
    return { mechanism: mechanism(chosen.cls || CLS_REMOTE, VXLAN, params), tookVni };
  }

  /** Builds (or, on a refresh that changed nothing, keeps) the kernel side of the connection. */
  private async program(
    ctx: Context,
    conn: Connection,
    incoming: Mechanism,
    outgoing: Mechanism | undefined,
    clientNetns: NetnsRef | undefined,
  ): Promise<void> {
    const plan = await this.plan(conn, incoming, outgoing, clientNetns);
    // Only what reaches the kernel decides whether anything must change.
    const fingerprint = JSON.stringify(plan);
    const before = metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY);
    if (before?.fingerprint === fingerprint) return;
    if (before) {
      metadata.loadAndDelete(ctx, false, PROGRAMMED_KEY);
      await this.removeLinks(before.links);
    }
    const links: MadeLink[] = [];
    const record = () => metadata.store<Programmed>(ctx, false, PROGRAMMED_KEY, { fingerprint, links });
    const { dataplane } = this.opts;
    if (plan.kind === 'veth') {
      const { client, endpoint } = plan;
      // Links an earlier run of this forwarder made for this connection (see reconcile.ts).
      const adoptedClient = before
        ? undefined
        : await this.opts.reconciler?.adopt(client.alias, client.netns);
      const adoptedEndpoint = before
        ? undefined
        : await this.opts.reconciler?.adopt(endpoint.alias, endpoint.netns);
      if (adoptedClient?.name === client.name && adoptedEndpoint?.name === endpoint.name) {
        links.push({ netns: client.netns, name: client.name });
        record();
        await dataplane.configureInterfaces([
          { netns: client.netns, ifname: client.name, config: client.config },
          { netns: endpoint.netns, ifname: endpoint.name, config: endpoint.config },
        ]);
        return;
      }
      await this.discard(adoptedClient, adoptedEndpoint);
      // Created from the client namespace, whose set-up then shares the create batch: 2 processes, not 3.
      await dataplane.createVethPair(client, endpoint, { netns: client.netns });
      links.push({ netns: client.netns, name: client.name });
      record();
      return;
    }
    const adopted = before ? undefined : await this.opts.reconciler?.adopt(plan.end.alias, plan.end.netns);
    // Rebuilding released the VNI with the old links: claim it again even on the server side.
    await this.vxlanEnd(links, record, plan.end, plan.params, adopted, plan.claimVni || before !== undefined);
  }

  /** What the kernel must hold for this connection on this node. */
  /** `clientNetns`: the incoming KERNEL namespace, already resolved when the request came in. */
  private async plan(
    conn: Connection,
    incoming: Mechanism,
    outgoing: Mechanism | undefined,
    clientNetns: NetnsRef | undefined,
  ): Promise<KernelPlan> {
    if (!outgoing) throw invalidArgument('the next hop returned no mechanism');
    const ipContext = conn.context?.ipContext;
    const ctxMtu = conn.context?.MTU || 0;
    const ip = conn.payload === 'IP';
    const clientAlias = linkAlias(this.owner, conn.id, 'client');
    const endpointAlias = linkAlias(this.owner, conn.id, 'endpoint');
    const endpointName = () => {
      const name = outgoing.parameters[PARAM_NAME] || generateInterfaceName(conn.networkService);
      validateInterfaceName(name, 'endpoint KERNEL mechanism parameter "name"');
      return name;
    };
    const netnsOf = async (m: Mechanism, where: string) => ({
      path: (await resolveNetns(this.requireParam(m, PARAM_INODE_URL, where))).path,
    });

    if (incoming.type === KERNEL && outgoing.type === KERNEL) {
      const mtu = ctxMtu || this.opts.vethMtu;
      const clientMac = macFor(conn.id, 'client');
      const endpointMac = macFor(conn.id, 'endpoint');
      return {
        kind: 'veth',
        client: {
          netns: clientNetns ?? (await netnsOf(incoming, 'client KERNEL')),
          name: incoming.parameters[PARAM_NAME],
          alias: clientAlias,
          mtu,
          mac: clientMac,
          config: this.interfaceConfig('client', ipContext, mtu, ip ? endpointMac : undefined),
        },
        endpoint: {
          netns: await netnsOf(outgoing, 'endpoint KERNEL'),
          name: endpointName(),
          alias: endpointAlias,
          mtu,
          mac: endpointMac,
          config: this.interfaceConfig('endpoint', ipContext, mtu, ip ? clientMac : undefined),
        },
      };
    }
    const mtu = Math.min(ctxMtu || this.opts.vxlanMtu, this.opts.vxlanMtu);
    if (incoming.type === KERNEL && outgoing.type === VXLAN) {
      return {
        kind: 'vxlan',
        claimVni: true,
        end: {
          netns: clientNetns ?? (await netnsOf(incoming, 'client KERNEL')),
          name: incoming.parameters[PARAM_NAME],
          alias: clientAlias,
          mtu,
          mac: macFor(conn.id, 'client'),
          config: this.interfaceConfig('client', ipContext, mtu),
        },
        params: {
          vni: vniOf(outgoing, 'returned VXLAN mechanism'),
          local: this.opts.tunnelIP,
          remote: ipParam(outgoing, PARAM_DST_IP, 'returned VXLAN mechanism'),
          port: Number(outgoing.parameters[PARAM_DST_PORT] || this.opts.vxlanPort),
        },
      };
    }
    if (incoming.type === VXLAN && outgoing.type === KERNEL) {
      return {
        kind: 'vxlan',
        claimVni: false,
        end: {
          netns: await netnsOf(outgoing, 'endpoint KERNEL'),
          name: endpointName(),
          alias: endpointAlias,
          mtu,
          mac: macFor(conn.id, 'endpoint'),
          config: this.interfaceConfig('endpoint', ipContext, mtu),
        },
        params: {
          vni: vniOf(incoming, 'VXLAN mechanism'),
          local: this.opts.tunnelIP,
          remote: ipParam(incoming, PARAM_SRC_IP, 'VXLAN mechanism'),
          port: this.opts.vxlanPort,
        },
      };
    }
    throw invalidArgument(`cannot cross-connect ${incoming.type} to ${outgoing.type}`);
  }

  /** Creates (or adopts) one VXLAN end. `claimVni`: the VNI was chosen by the peer, not by us. */
  private async vxlanEnd(
    links: MadeLink[],
    record: () => void,
    end: PlannedEnd,
    params: VxlanPlan,
    adopted: OrphanLink | undefined,
    claimVni: boolean,
  ): Promise<void> {
    if (adopted)
      log.info(
        { alias: end.alias, adopted, wanted: { name: end.name, vni: params.vni } },
        'found a link of an earlier run',
      );
    if (adopted?.name === end.name && adopted.kind === 'vxlan' && adopted.vni === params.vni) {
      links.push({ netns: end.netns, name: end.name, vni: params.vni });
      record();
      await this.opts.dataplane.configureInterface(end.netns, end.name, end.config);
      return;
    }
    await this.discard(adopted);
    if (claimVni) this.opts.vni.claim(params.vni);
    try {
      await this.opts.dataplane.createVxlan(end, params);
    } catch (e) {
      if (claimVni) this.opts.vni.release(params.vni);
      throw e;
    }
    links.push({ netns: end.netns, name: end.name, vni: params.vni });
    record();
  }

  /** Removes adopted links that do not fit the connection as it is now. */
  private async discard(...adopted: (OrphanLink | undefined)[]): Promise<void> {
    for (const l of adopted) {
      if (!l) continue;
      log.info({ link: `${l.netns.path}:${l.name}` }, 'discarding a link of an earlier run');
      await this.opts.dataplane.deleteLink(l.netns, l.name);
      if (l.vni !== undefined) this.opts.vni.release(l.vni);
    }
  }

  private interfaceConfig(
    side: 'client' | 'endpoint',
    ipContext: IPContext | undefined,
    mtu: number,
    peerMac?: string,
  ): InterfaceConfig {
    const plan = ipContext ? contextPlan(side, ipContext) : { addresses: [], routes: [], neighbors: [] };
    const neighbors = [...plan.neighbors];
    if (peerMac && ipContext) {
      const peerIPs = side === 'client' ? ipContext.dstIpAddrs : ipContext.srcIpAddrs;
      for (const cidr of peerIPs) neighbors.push({ ip: cidr.split('/')[0], mac: peerMac });
    }
    return { ...plan, neighbors, mtu };
  }

  private requireParam(m: Mechanism, key: string, where: string): string {
    const v = m.parameters[key];
    if (!v) throw invalidArgument(`${where} mechanism has no parameter "${key}"`);
    return v;
  }
}

export function newServer(opts: XconnectOptions): NetworkServiceServer {
  return new XconnectServer(opts);
}
