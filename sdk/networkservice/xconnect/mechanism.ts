// The contract between xconnect and the mechanisms it joins (mechanisms/kernel: veth, mechanisms/vxlan;
// later WireGuard-like or IPsec ones). xconnect knows no mechanism by name: the forwarder passes an
// ordered list, and for each connection xconnect
//
//   accept (incoming hop, impure: resolves, reserves) ─▶ next hop ─▶ resolve (outgoing answer, impure)
//     ─▶ plan (pure: both ends → plain data) ─▶ apply (kernel, under the request's signal) ... remove
//
// A plan is plain data: equal plans (JSON) on a refresh mean nothing to change, and tests can call
// `plan` without root or a kernel. Everything that reaches the kernel goes through a `Dataplane`, so a
// faster runner (netlink, long-lived `ip -batch`) changes nothing here.
import { createHash } from 'node:crypto';
import type { Connection, Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { invalidArgument } from '../../errors/index.js';
import {
  contextPlan,
  type Dataplane,
  type InterfaceConfig,
  type LinkEnd,
  type NetnsRef,
  policyTableBase,
} from '../../kernel/index.js';

/** One side of a connection: the mechanism agreed with that hop and what its parameters resolved to. */
export interface End {
  readonly mechanism: Mechanism;
  /** Where this side's interface lives (KERNEL), resolved once when the mechanism arrived. */
  readonly netns?: NetnsRef;
}

/** The incoming side after `accept`. */
export interface Accepted extends End {
  /** `accept` reserved something (a VNI) that a request failing before the kernel must give back. */
  readonly reserved: boolean;
}

/** Everything a plan depends on. */
export interface PlanInput {
  readonly conn: Connection;
  readonly incoming: End;
  readonly outgoing: End;
  /** Ownership mark of this forwarder, "<name>@<tunnel IP>", written into link aliases. */
  readonly owner: string;
}

/** What the kernel must hold for one connection. Plain data (JSON-comparable); `kind` names its shape. */
export interface KernelPlan {
  readonly kind: string;
}

/** One end of a link to create, with the configuration its batch applies. */
export interface PlannedEnd extends LinkEnd {
  readonly netns: NetnsRef;
  readonly mtu: number;
  readonly mac: string;
  readonly config: InterfaceConfig;
}

/** A kernel object a connection owns, enough to remove it. */
export interface MadeLink {
  readonly netns: NetnsRef;
  readonly name: string;
  /** A VNI this link holds on this node (released when it is removed). */
  readonly vni?: number;
  /** The first routing table of policy routes in this link's namespace (their rules are removed with it). */
  readonly policyTableBase?: number;
}

/** A link an earlier run of this forwarder made (found by the reconciler). */
export interface OrphanLink extends MadeLink {
  readonly kind?: string;
}

/** What `apply` may touch. */
export interface ApplyIO {
  readonly dataplane: Dataplane;
  /** The request's signal: aborting kills the `ip` processes of this apply (CANCELLED). */
  readonly signal: AbortSignal;
  /** The connection had other kernel state before (a refresh that changed it), removed just now. */
  readonly rebuilding: boolean;
  /** Takes the link an earlier run left under this alias, if any (never while rebuilding). */
  adopt(alias: string, netns: NetnsRef): Promise<OrphanLink | undefined>;
  /** Removes an adopted link that does not fit the plan (and gives back its VNI). */
  discard(link: OrphanLink): Promise<void>;
  /** Records what exists now, as soon as it exists, so that a later failure or close removes it. */
  record(links: readonly MadeLink[]): void;
  /**
   * The outgoing mechanism's parameters changed while applying (an endpoint interface name that was
   * taken and replaced): kept for refreshes, so the next hop is told and the plan stays the same.
   * Call before `record`.
   */
  updateOutgoing(parameters: Readonly<Record<string, string>>): void;
}

/**
 * A mechanism the forwarder can put on one side of a connection. Contract: xconnect calls `accept`
 * for the incoming hop's mechanism before the next hop, `resolve` for the next hop's answer after it,
 * then asks each mechanism in order for a `plan` until one answers; that mechanism's `apply` builds
 * the plan, and its `remove` takes down what `apply` recorded (on close, or before a changed plan is
 * applied). `release` gives back what `accept` reserved when no kernel state was ever recorded.
 */
export interface XconnectMechanism {
  /** The mechanism type string, as upstream spells it ("KERNEL", "VXLAN"). */
  readonly type: string;
  /** Completes and checks the incoming hop's mechanism (INVALID_ARGUMENT naming the parameter). */
  accept(conn: Connection, chosen: Mechanism, previous: Mechanism | undefined): Promise<Accepted>;
  /** Checks the next hop's answer and resolves what it names. */
  resolve(conn: Connection, answered: Mechanism): Promise<End>;
  /** The preference to offer a next hop at `url`, or undefined when this mechanism cannot reach it. */
  offer(url: string): Mechanism | undefined;
  /** Pure. The kernel state joining these two ends, or undefined when this mechanism does not join them. */
  plan(input: PlanInput): KernelPlan | undefined;
  /** Builds a plan this mechanism made. Either completes or removes what it made and rejects. */
  apply(plan: KernelPlan, io: ApplyIO): Promise<void>;
  /** Removes links `apply` recorded; not under the caller's signal (a half-done delete would leak). */
  remove(links: readonly MadeLink[], dataplane: Dataplane): Promise<void>;
  /** Gives back what `accept` reserved for `incoming`. */
  release(incoming: Mechanism): void;
}

export function ownerTag(name: string, tunnelIP: string): string {
  return `${name}@${tunnelIP}`;
}

/** The alias prefix of every link this forwarder makes. */
export function ownerPrefix(owner: string): string {
  return `nsm:${owner}:`;
}

export function linkAlias(owner: string, connId: string, side: 'client' | 'endpoint'): string {
  return `${ownerPrefix(owner)}${connId}:${side}`;
}

/** A locally administered unicast MAC derived from the connection, stable across refreshes. */
export function macFor(connId: string, side: string): string {
  const h = createHash('sha256').update(`${connId}/${side}`).digest();
  h[0] = (h[0] & 0xfc) | 0x02;
  return [...h.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

/**
 * What one side's interface gets from the connection context (upstream's semantics, see
 * sdk/kernel/connection-context.ts), sized to `mtu`. With `peerMac` (IP payload over a veth pair) the
 * peer's addresses also get static neighbour entries, so the first packet needs no ARP.
 */
export function interfaceConfig(
  side: 'client' | 'endpoint',
  ipContext: IPContext | undefined,
  mtu: number,
  peerMac?: string,
  connId = '',
): InterfaceConfig {
  const plan = ipContext ? contextPlan(side, ipContext) : { addresses: [], routes: [], neighbors: [] };
  const neighbors = [...plan.neighbors];
  if (peerMac && ipContext) {
    const peerIPs = side === 'client' ? ipContext.dstIpAddrs : ipContext.srcIpAddrs;
    for (const cidr of peerIPs) neighbors.push({ ip: cidr.split('/')[0], mac: peerMac });
  }
  const { policyRoutes: policies, ...rest } = plan;
  return {
    ...rest,
    neighbors,
    mtu,
    ...(policies ? { policies: { tableBase: policyTableBase(connId), policies } } : {}),
  };
}

/** What to record for a planned end besides its link: the policy tables whose rules go with it. */
export function policyRecord(end: PlannedEnd): Pick<MadeLink, 'policyTableBase'> {
  const base = end.config.policies?.tableBase;
  return base === undefined ? {} : { policyTableBase: base };
}

/** Removes the policy rules of recorded links (their tables' routes went with the links). */
export async function removePolicies(dataplane: Dataplane, links: readonly MadeLink[]): Promise<void> {
  const results = await Promise.allSettled(
    links
      .filter((l) => l.policyTableBase !== undefined)
      .map((l) => dataplane.clearPolicies(l.netns, l.policyTableBase!)),
  );
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

export function requireParam(m: Mechanism, key: string, where: string): string {
  const v = m.parameters[key];
  if (!v) throw invalidArgument(`${where} mechanism has no parameter "${key}"`);
  return v;
}

/** Deletes links in parallel; the first failure is thrown after all were tried. */
export async function deleteLinks(dataplane: Dataplane, links: readonly MadeLink[]): Promise<void> {
  const results = await Promise.allSettled(links.map((l) => dataplane.deleteLink(l.netns, l.name)));
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

/** The first mechanism that plans this connection; pure, so tests call it without a kernel. */
export function planConnection(
  mechanisms: readonly XconnectMechanism[],
  input: PlanInput,
): { mechanism: XconnectMechanism; plan: KernelPlan } {
  for (const mechanism of mechanisms) {
    const plan = mechanism.plan(input);
    if (plan) return { mechanism, plan };
  }
  throw invalidArgument(
    `cannot cross-connect ${input.incoming.mechanism.type} to ${input.outgoing.mechanism.type}`,
  );
}
