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
import type { Connection, Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorMessage, invalidArgument, NsmError, wrap } from '../../errors/index.js';
import { contextPlan, type Dataplane, type NetnsRef, resolveNetns } from '../../kernel/index.js';
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
  PARAM_MTU,
  PARAM_NAME,
  PARAM_SRC_IP,
  PARAM_VNI,
  VXLAN,
  validateInterfaceName,
} from '../mechanisms/common.js';
import { MAX_VNI, type VniAllocator } from '../mechanisms/vxlan/vni.js';
import * as metadata from '../metadata/index.js';
import { INCOMING_KEY, OUTGOING_MECHANISM_KEY, PROGRAMMED_KEY } from './common.js';

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
}

/** A kernel object this connection owns, enough to remove it. */
interface MadeLink {
  netns: NetnsRef;
  name: string;
  vni?: number;
}

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
  constructor(private readonly opts: XconnectOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const incoming = await this.acceptIncoming(conn, req.mechanismPreferences);
    conn.mechanism = incoming;
    metadata.store(ctx, false, INCOMING_KEY, incoming);
    const allocatedVni = incoming.type === VXLAN && !metadata.load(ctx, false, PROGRAMMED_KEY);
    let result: Connection;
    try {
      result = await next.server(ctx).request(ctx, req);
    } catch (e) {
      if (allocatedVni) this.opts.vni.release(Number(incoming.parameters[PARAM_VNI]));
      throw e;
    }
    const outgoing = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    try {
      await this.program(ctx, result, incoming, outgoing);
    } catch (e) {
      const err = wrap(e, `failed to set up connection ${conn.id} in the kernel`);
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
    let firstError: unknown;
    if (programmed) {
      try {
        await this.removeLinks(programmed.links);
      } catch (e) {
        firstError = e;
      }
    }
    if (incoming?.type === VXLAN && !programmed)
      this.opts.vni.release(Number(incoming.parameters[PARAM_VNI]));
    try {
      await next.server(ctx).close(ctx, conn);
    } catch (e) {
      firstError ??= e;
    }
    if (firstError) throw firstError;
  }

  private async removeLinks(links: MadeLink[]): Promise<void> {
    const results = await Promise.allSettled(
      links.map((l) => this.opts.dataplane.deleteLink(l.netns, l.name)),
    );
    for (const l of links) if (l.vni !== undefined) this.opts.vni.release(l.vni);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Chooses and completes the mechanism of the hop that called us. */
  private async acceptIncoming(conn: Connection, prefs: Mechanism[]): Promise<Mechanism> {
    const supported = (m: Mechanism | undefined) => m && (m.type === KERNEL || m.type === VXLAN);
    const chosen = supported(conn.mechanism) ? conn.mechanism! : prefs.find((m) => supported(m));
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
      await resolveNetns(params[PARAM_INODE_URL]);
      return mechanism(chosen.cls, KERNEL, params);
    }
    const params = { ...chosen.parameters };
    const srcIP = ipParam(chosen, PARAM_SRC_IP, 'VXLAN mechanism');
    params[PARAM_DST_IP] = this.opts.tunnelIP;
    params[PARAM_DST_PORT] = String(this.opts.vxlanPort);
    if (params[PARAM_VNI]) vniOf(chosen, 'VXLAN mechanism');
    else params[PARAM_VNI] = String(this.opts.vni.allocate(srcIP, this.opts.tunnelIP));
    return mechanism(chosen.cls || CLS_REMOTE, VXLAN, params);
  }

  /** Builds (or, on a refresh that changed nothing, keeps) the kernel side of the connection. */
  private async program(
    ctx: Context,
    conn: Connection,
    incoming: Mechanism,
    outgoing?: Mechanism,
  ): Promise<void> {
    if (!outgoing) throw invalidArgument('the next hop returned no mechanism');
    const ipContext = conn.context?.ipContext;
    const fingerprint = JSON.stringify([
      incoming,
      outgoing,
      ipContext ?? null,
      conn.context?.MTU ?? 0,
      conn.payload,
    ]);
    const before = metadata.load<Programmed>(ctx, false, PROGRAMMED_KEY);
    if (before?.fingerprint === fingerprint) return;
    if (before) {
      metadata.loadAndDelete(ctx, false, PROGRAMMED_KEY);
      await this.removeLinks(before.links);
    }
    const links: MadeLink[] = [];
    const record = () => metadata.store<Programmed>(ctx, false, PROGRAMMED_KEY, { fingerprint, links });
    const { dataplane } = this.opts;
    const alias = (side: string) => `nsm:${this.opts.name}:${conn.id}:${side}`;
    const ctxMtu = conn.context?.MTU || 0;

    if (incoming.type === KERNEL && outgoing.type === KERNEL) {
      const clientNs = await resolveNetns(incoming.parameters[PARAM_INODE_URL]);
      const endpointNs = await resolveNetns(this.requireParam(outgoing, PARAM_INODE_URL, 'endpoint KERNEL'));
      const endpointName = outgoing.parameters[PARAM_NAME] || generateInterfaceName(conn.networkService);
      validateInterfaceName(endpointName, 'endpoint KERNEL mechanism parameter "name"');
      const mtu = ctxMtu || this.opts.vethMtu;
      const clientEnd = {
        netns: { path: clientNs.path },
        name: incoming.parameters[PARAM_NAME],
        alias: alias('client'),
        mtu,
        mac: macFor(conn.id, 'client'),
      };
      const endpointEnd = {
        netns: { path: endpointNs.path },
        name: endpointName,
        alias: alias('endpoint'),
        mtu,
        mac: macFor(conn.id, 'endpoint'),
      };
      await dataplane.createVethPair(clientEnd, endpointEnd);
      links.push({ netns: clientEnd.netns, name: clientEnd.name });
      record();
      const ip = conn.payload === 'IP';
      await Promise.all([
        this.configure(
          clientEnd.netns,
          clientEnd.name,
          'client',
          ipContext,
          mtu,
          ip ? endpointEnd.mac : undefined,
        ),
        this.configure(
          endpointEnd.netns,
          endpointEnd.name,
          'endpoint',
          ipContext,
          mtu,
          ip ? clientEnd.mac : undefined,
        ),
      ]);
      return;
    }
    if (incoming.type === KERNEL && outgoing.type === VXLAN) {
      const clientNs = await resolveNetns(incoming.parameters[PARAM_INODE_URL]);
      const vni = vniOf(outgoing, 'returned VXLAN mechanism');
      const remote = ipParam(outgoing, PARAM_DST_IP, 'returned VXLAN mechanism');
      const port = Number(outgoing.parameters[PARAM_DST_PORT] || this.opts.vxlanPort);
      const mtu = Math.min(ctxMtu || this.opts.vxlanMtu, this.opts.vxlanMtu);
      this.opts.vni.claim(vni);
      const end = {
        netns: { path: clientNs.path },
        name: incoming.parameters[PARAM_NAME],
        alias: alias('client'),
        mtu,
        mac: macFor(conn.id, 'client'),
      };
      try {
        await dataplane.createVxlan(end, { vni, local: this.opts.tunnelIP, remote, port });
      } catch (e) {
        this.opts.vni.release(vni);
        throw e;
      }
      links.push({ netns: end.netns, name: end.name, vni });
      record();
      await this.configure(end.netns, end.name, 'client', ipContext, mtu);
      outgoing.parameters[PARAM_MTU] = String(mtu);
      return;
    }
    if (incoming.type === VXLAN && outgoing.type === KERNEL) {
      const endpointNs = await resolveNetns(this.requireParam(outgoing, PARAM_INODE_URL, 'endpoint KERNEL'));
      const endpointName = outgoing.parameters[PARAM_NAME] || generateInterfaceName(conn.networkService);
      validateInterfaceName(endpointName, 'endpoint KERNEL mechanism parameter "name"');
      const vni = vniOf(incoming, 'VXLAN mechanism');
      const remote = ipParam(incoming, PARAM_SRC_IP, 'VXLAN mechanism');
      const mtu = Math.min(ctxMtu || this.opts.vxlanMtu, this.opts.vxlanMtu);
      const end = {
        netns: { path: endpointNs.path },
        name: endpointName,
        alias: alias('endpoint'),
        mtu,
        mac: macFor(conn.id, 'endpoint'),
      };
      await dataplane.createVxlan(end, { vni, local: this.opts.tunnelIP, remote, port: this.opts.vxlanPort });
      links.push({ netns: end.netns, name: end.name, vni });
      record();
      await this.configure(end.netns, end.name, 'endpoint', ipContext, mtu);
      return;
    }
    throw invalidArgument(`cannot cross-connect ${incoming.type} to ${outgoing.type}`);
  }

  private requireParam(m: Mechanism, key: string, where: string): string {
    const v = m.parameters[key];
    if (!v) throw invalidArgument(`${where} mechanism has no parameter "${key}"`);
    return v;
  }

  private async configure(
    netns: NetnsRef,
    ifname: string,
    side: 'client' | 'endpoint',
    ipContext: IPContext | undefined,
    mtu: number,
    peerMac?: string,
  ): Promise<void> {
    const plan = ipContext ? contextPlan(side, ipContext) : { addresses: [], routes: [], neighbors: [] };
    const neighbors = [...plan.neighbors];
    if (peerMac && ipContext) {
      const peerIPs = side === 'client' ? ipContext.dstIpAddrs : ipContext.srcIpAddrs;
      for (const cidr of peerIPs) neighbors.push({ ip: cidr.split('/')[0], mac: peerMac });
    }
    try {
      await this.opts.dataplane.configureInterface(netns, ifname, { ...plan, neighbors, mtu });
    } catch (e) {
      throw wrap(e, `failed to configure ${side} interface ${ifname} (${getErrorMessage(e)})`);
    }
  }
}

export function newServer(opts: XconnectOptions): NetworkServiceServer {
  return new XconnectServer(opts);
}
