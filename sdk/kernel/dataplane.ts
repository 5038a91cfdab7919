// Kernel operations the forwarder needs, each as few `ip` processes as possible:
//
//    creating (node) netns           pod A netns                    pod B netns
//   ┌───────────────────────┐       ┌────────────────────┐         ┌────────────────────┐
//   │ batch 1: link add      │ netns │ NAME_A             │  veth   │ NAME_B             │
//   │ NAME_A netns A ... peer│ ────► │ batch 2a: alias,   │ ◄─────► │ batch 2b: alias,   │
//   │ NAME_B netns B         │       │ up, [addr, routes] │         │ up, [addr, routes] │
//   └───────────────────────┘       └────────────────────┘         └────────────────────┘
//
// Links are created directly in their target namespace (`link add ... netns PATH`): moving a link
// between namespaces afterwards costs ~17 ms of kernel time per move (an RCU grace period) against
// ~4 ms for the whole create. iproute2 cannot set an alias on creation or bring a veth peer up, so
// the ends are set up after the create line: the creating namespace's in the create batch itself,
// each other namespace's in one more batch of its own (in parallel), carrying the end's
// configuration when the caller passes it. Command lines come from the pure builders in commands.ts;
// everything runs through an IpRunner, so this file is tested with the recording fake.
import { status } from '@grpc/grpc-js';
import { invalidArgument, isNsmError, NsmError } from '../errors/index.js';
import {
  configureCommands,
  deleteLinkCommands,
  type InterfaceConfig,
  type LinkEnd,
  setupCommands,
  type VxlanParams,
  vethCreateCommand,
  vxlanCreateCommand,
} from './commands.js';
import { instrumentDataplane } from './instrument.js';
import {
  type JsonAddr,
  type JsonLink,
  type JsonRoute,
  type LinkStats,
  toLinkInfo,
  toRouteInfo,
} from './ip-json.js';
import {
  type IpRunner,
  isKernelCommandError,
  type NetnsRef,
  newIpRunner,
  type RunOptions,
} from './iproute2.js';
import { LinkStatsCache } from './link-stats-cache.js';
import { clearPolicyRules, resetPolicyRules } from './policy.js';
import { checkIfName, parseIp } from './validate.js';

export interface LinkInfo {
  readonly ifindex: number;
  readonly name: string;
  readonly alias?: string;
  readonly mtu: number;
  /** MAC address ("" for links without one). */
  readonly address: string;
  /** rtnetlink kind ("veth", "vxlan"); absent for plain devices such as lo. */
  readonly kind?: string;
  /** The VNI of a VXLAN link. */
  readonly vni?: number;
  readonly up: boolean;
}

export interface AddressInfo {
  /** "172.16.1.101/32" */
  readonly address: string;
  readonly family: 4 | 6;
  readonly scope: string;
}

export interface RouteInfo {
  /** Network prefix in CIDR form; a default route is 0.0.0.0/0 or ::/0. */
  readonly prefix: string;
  readonly via?: string;
  readonly scope?: string;
  /** Who installed it: "kernel" for routes the kernel derives from addresses; absent for ours ("boot"). */
  readonly protocol?: string;
  readonly family: 4 | 6;
  readonly flags: readonly string[];
}

export interface VethOptions extends RunOptions {
  /**
   * The namespace that runs the create (default: our own). Nothing is left in it unless an end has
   * netns null, which means "stay here".
   */
  readonly netns?: NetnsRef | null;
}

export interface InterfaceTarget {
  readonly netns: NetnsRef | null;
  readonly ifname: string;
  readonly config: InterfaceConfig;
}

/**
 * Kernel operations for the forwarder. Every method validates all of its inputs before running
 * anything (INVALID_ARGUMENT naming the field) and reports kernel failures as KernelCommandError.
 * A create either completes (links named, aliased, sized, up and, when an end carries `config`,
 * configured) or removes what it made and rejects; a name already taken in a target namespace
 * rejects with ALREADY_EXISTS and creates nothing. Configure has replace semantics and may be retried.
 */
export interface Dataplane {
  /**
   * A veth pair with each end born in its own namespace. One batch where it is created (with the set-up
   * of an end there), then one per other end namespace in parallel (alias, up, and the end's `config`
   * if given).
   */
  createVethPair(a: LinkEnd, b: LinkEnd, opts?: VethOptions): Promise<void>;
  /**
   * A VXLAN netdev created from `v.underlayNetns` (default: ours), whose UDP socket stays there, born
   * in `end.netns`. One batch in each of the two namespaces.
   */
  createVxlan(end: LinkEnd, v: VxlanParams, opts?: RunOptions): Promise<void>;
  /** Brings the link up and applies MTU, addresses, routes and neighbours. One batch. */
  configureInterface(
    netns: NetnsRef | null,
    ifname: string,
    cfg: InterfaceConfig,
    opts?: RunOptions,
  ): Promise<void>;
  /** Several configureInterface calls: one batch per namespace, namespaces in parallel. */
  configureInterfaces(targets: readonly InterfaceTarget[], opts?: RunOptions): Promise<void>;
  /**
   * Deletes a link; a link (or namespace) that is already gone is not an error. Resolves true when
   * it deleted the link, false when there was none.
   */
  deleteLink(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<boolean>;
  /**
   * Removes the policy rules whose table lies in the connection's range starting at `tableBase`
   * (see policy.ts). A namespace that is gone has none. Configure and create call it themselves for a
   * config with policies, since `ip rule add` is not idempotent.
   */
  clearPolicies(netns: NetnsRef | null, tableBase: number, opts?: RunOptions): Promise<void>;
  /** Whether netns has a link of this name (one batch line, no JSON). */
  linkExists(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<boolean>;
  /**
   * A hint that this namespace gets work soon (a request naming it arrived): the runner may start
   * its process now, so the exec overlaps the rest of the request. Never fails.
   */
  prepare(netns: NetnsRef | null): void;
  listLinks(netns: NetnsRef | null, opts?: RunOptions): Promise<LinkInfo[]>;
  /**
   * The links whose alias starts with `aliasPrefix` (the ownership mark, see `LinkEnd.alias`): what a
   * restarted forwarder made before. A namespace that is gone has none.
   */
  listOwnedLinks(netns: NetnsRef | null, aliasPrefix: string, opts?: RunOptions): Promise<LinkInfo[]>;
  linkAddresses(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<AddressInfo[]>;
  /** IPv4 and IPv6 routes of the main table that use this link. */
  linkRoutes(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<RouteInfo[]>;
  linkMac(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<string>;
  /** The link holding address `ip` (e.g. the underlay for a tunnel address), or undefined. */
  findAddressOwner(netns: NetnsRef | null, ip: string, opts?: RunOptions): Promise<LinkInfo | undefined>;
  /**
   * The link's traffic counters and alias; NOT_FOUND when it is gone. Read per namespace, one `ip -s
   * link show` shared by every link in it for `statsMaxAgeMs` (link-stats-cache.ts).
   */
  linkStats(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<LinkStats>;
}

export interface DataplaneOptions {
  /** Where commands go; default a real `ip` runner. */
  readonly runner?: IpRunner;
  /** How long one read of a namespace's counters answers linkStats (default 1 s). */
  readonly statsMaxAgeMs?: number;
}

/** `newDataplane(runner)` is short for `newDataplane({ runner })`. */
export function newDataplane(opts: DataplaneOptions | IpRunner = {}): Dataplane {
  const o = isIpRunner(opts) ? { runner: opts } : opts;
  const runner = o.runner ?? newIpRunner();
  const stats = new LinkStatsCache(runner, { maxAgeMs: o.statsMaxAgeMs });
  return instrumentDataplane(new KernelDataplane(runner, stats)); // timed, counted, traced when on
}

function isIpRunner(x: DataplaneOptions | IpRunner): x is IpRunner {
  return typeof (x as IpRunner).batch === 'function' && typeof (x as IpRunner).json === 'function';
}

class KernelDataplane implements Dataplane {
  constructor(
    private readonly runner: IpRunner,
    private readonly stats: LinkStatsCache,
  ) {}

  async createVethPair(a: LinkEnd, b: LinkEnd, opts: VethOptions = {}): Promise<void> {
    const create = vethCreateCommand(a, b);
    await this.createThenSetUp(opts.netns ?? null, create, [a, b], opts);
  }

  async createVxlan(end: LinkEnd, v: VxlanParams, opts: RunOptions = {}): Promise<void> {
    const create = vxlanCreateCommand(end, v);
    await this.createThenSetUp(v.underlayNetns ?? null, create, [end], opts);
  }

  async configureInterface(
    netns: NetnsRef | null,
    ifname: string,
    cfg: InterfaceConfig,
    opts: RunOptions = {},
  ): Promise<void> {
    const commands = configureCommands(ifname, cfg);
    if (cfg.policies) await resetPolicyRules(this.runner, netns, cfg.policies, opts);
    await this.runner.batch(netns, commands, opts);
  }

  async configureInterfaces(targets: readonly InterfaceTarget[], opts: RunOptions = {}): Promise<void> {
    // Build (and so validate) everything before running anything.
    const byNetns = new Map<string | null, { netns: NetnsRef | null; commands: string[] }>();
    for (const t of targets) {
      const key = t.netns?.path ?? null;
      const group = byNetns.get(key) ?? { netns: t.netns, commands: [] };
      group.commands.push(...configureCommands(t.ifname, t.config));
      byNetns.set(key, group);
    }
    await Promise.all(
      targets.flatMap((t) =>
        t.config.policies ? [resetPolicyRules(this.runner, t.netns, t.config.policies, opts)] : [],
      ),
    );
    const results = await Promise.allSettled(
      [...byNetns.values()].map((g) => this.runner.batch(g.netns, g.commands, opts)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async deleteLink(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<boolean> {
    try {
      await this.runner.batch(netns, deleteLinkCommands(name), opts);
      return true;
    } catch (e) {
      if (isKernelCommandError(e) && e.code === status.NOT_FOUND) return false;
      throw e;
    }
  }

  async clearPolicies(netns: NetnsRef | null, tableBase: number, opts: RunOptions = {}): Promise<void> {
    await clearPolicyRules(this.runner, netns, tableBase, opts);
  }

  async linkExists(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<boolean> {
    try {
      await this.runner.batch(netns, [`link show dev ${checkIfName(name, 'name')}`], opts);
      return true;
    } catch (e) {
      if (isKernelCommandError(e) && e.code === status.NOT_FOUND) return false;
      throw e;
    }
  }

  prepare(netns: NetnsRef | null): void {
    this.runner.prepare?.(netns);
  }

  async listLinks(netns: NetnsRef | null, opts: RunOptions = {}): Promise<LinkInfo[]> {
    const links = await this.runner.json<JsonLink[]>(netns, ['-d', 'link', 'show'], opts);
    return links.map(toLinkInfo);
  }

  async listOwnedLinks(
    netns: NetnsRef | null,
    aliasPrefix: string,
    opts: RunOptions = {},
  ): Promise<LinkInfo[]> {
    if (aliasPrefix === '') throw invalidArgument('aliasPrefix must not be empty: it would match every link');
    let links: LinkInfo[];
    try {
      links = await this.listLinks(netns, opts);
    } catch (e) {
      if (isKernelCommandError(e) && e.code === status.NOT_FOUND) return [];
      throw e;
    }
    return links.filter((l) => l.alias?.startsWith(aliasPrefix));
  }

  linkStats(netns: NetnsRef | null, name: string): Promise<LinkStats> {
    return this.stats.read(netns, checkIfName(name, 'name'));
  }

  async linkAddresses(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<AddressInfo[]> {
    checkIfName(name, 'name');
    const out = await this.runner.json<JsonAddr[]>(netns, ['addr', 'show', 'dev', name], opts);
    return out.flatMap((l) =>
      (l.addr_info ?? []).map((a) => ({
        address: `${a.local}/${a.prefixlen}`,
        family: a.family === 'inet6' ? (6 as const) : (4 as const),
        scope: a.scope,
      })),
    );
  }

  async linkRoutes(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<RouteInfo[]> {
    checkIfName(name, 'name');
    const [v4, v6] = await Promise.all([
      this.runner.json<JsonRoute[]>(netns, ['-4', 'route', 'show', 'dev', name], opts),
      this.runner.json<JsonRoute[]>(netns, ['-6', 'route', 'show', 'dev', name], opts),
    ]);
    return [...v4.map((r) => toRouteInfo(r, 4)), ...v6.map((r) => toRouteInfo(r, 6))];
  }

  async linkMac(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<string> {
    checkIfName(name, 'name');
    const [link] = await this.runner.json<JsonLink[]>(netns, ['link', 'show', 'dev', name], opts);
    return link?.address ?? '';
  }

  async findAddressOwner(
    netns: NetnsRef | null,
    ip: string,
    opts: RunOptions = {},
  ): Promise<LinkInfo | undefined> {
    const want = parseIp(ip, 'ip');
    const links = await this.runner.json<JsonAddr[]>(netns, ['-d', 'addr', 'show'], opts);
    const owner = links.find((l) =>
      (l.addr_info ?? []).some((a) => {
        try {
          const have = parseIp(a.local, 'local');
          return have.family === want.family && have.value === want.value;
        } catch {
          return false;
        }
      }),
    );
    return owner?.ifname === undefined ? undefined : toLinkInfo(owner as JsonLink);
  }

  /**
   * Batch 1 in the creating namespace: the create line plus the set-up of the ends there. Then one
   * set-up batch per other namespace, in parallel. If anything after the
   * create line fails, the links are deleted again (a veth end takes its peer with it) and the first
   * error is thrown.
   */
  private async createThenSetUp(
    maker: NetnsRef | null,
    create: string,
    ends: readonly LinkEnd[],
    opts: RunOptions,
  ): Promise<void> {
    const makerKey = maker?.path ?? null;
    const groups = new Map<string | null, { netns: NetnsRef | null; commands: string[] }>();
    for (const end of ends) {
      const netns = end.netns ?? maker;
      const key = netns?.path ?? null;
      const group = groups.get(key) ?? { netns, commands: [] };
      group.commands.push(...setupCommands(end)); // builds, so validates, everything before running
      groups.set(key, group);
    }
    // The creating namespace's own set-up goes with the create line; the other namespace's is one
    // batch after it (it cannot start before the link exists), so the critical path is two batches
    // whichever way, and the maker's process gets one write instead of two.
    const first = [create, ...(groups.get(makerKey)?.commands ?? [])];
    groups.delete(makerKey);
    if (opts.signal?.aborted) throw new NsmError(status.CANCELLED, `failed to run "ip ${create}": cancelled`);
    // Rules a crashed run left for this connection would be added twice (`ip rule add` is not idempotent).
    await Promise.all(
      ends.flatMap((e) =>
        e.config?.policies ? [resetPolicyRules(this.runner, e.netns ?? maker, e.config.policies, opts)] : [],
      ),
    );
    try {
      await this.runner.batch(maker, first, opts);
    } catch (e) {
      // "" is a failure before any line ran (e.g. the creating namespace is gone).
      const atCreate = isKernelCommandError(e) && (e.command === create || e.command === '');
      const uncertain = isNsmError(e) && (e.code === status.CANCELLED || e.code === status.DEADLINE_EXCEEDED);
      await this.clearPoliciesQuietly(ends, maker); // the IPv6 rules went in before the create
      // iproute2 refused the create line itself: nothing was made (a taken name fails the whole line).
      if (atCreate && !uncertain) throw e;
      // Killed mid-batch we do not know whether the create ran, and a link of that name may be someone
      // else's: remove it only if it carries our alias or none.
      await this.removeQuietly(ends, maker, uncertain);
      throw e;
    }
    const results = await Promise.allSettled(
      [...groups.values()].map((g) => this.runner.batch(g.netns, g.commands, opts)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) {
      await this.removeQuietly(ends, maker, false);
      await this.clearPoliciesQuietly(ends, maker);
      throw failed.reason;
    }
  }

  /** Best-effort removal of the policy rules of the ends after a failed create (rules outlive links). */
  private async clearPoliciesQuietly(ends: readonly LinkEnd[], maker: NetnsRef | null): Promise<void> {
    for (const e of ends) {
      const policies = e.config?.policies;
      if (policies) await this.clearPolicies(e.netns ?? maker, policies.tableBase).catch(() => undefined);
    }
  }

  /** Best-effort removal after a failed create; not under the caller's signal, which may be what failed it. */
  private async removeQuietly(
    ends: readonly LinkEnd[],
    maker: NetnsRef | null,
    checkAlias: boolean,
  ): Promise<void> {
    for (const end of ends) {
      const netns = end.netns ?? maker;
      try {
        if (checkAlias) {
          const [link] = await this.runner.json<JsonLink[]>(netns, ['link', 'show', 'dev', end.name]);
          if (link?.ifalias && link.ifalias !== end.alias) continue;
        }
        await this.deleteLink(netns, end.name);
        return; // deleting one veth end removes its peer too
      } catch {
        // gone already, or its namespace is: try the other end
      }
    }
  }
}
