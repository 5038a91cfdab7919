// Kernel operations the forwarder needs, each as few `ip` processes as possible:
//
//    caller (node) netns            pod A netns                  pod B netns
//   ┌──────────────────────┐       ┌──────────────┐             ┌──────────────┐
//   │ 1 batch: create under │ move  │ NAME_A       │   veth      │ NAME_B       │
//   │ temp names, then move │ ────► │ alias, up    │ ◄─────────► │ alias, up    │
//   │ + rename + alias + up │       │ 1 batch:     │             │ 1 batch:     │
//   │ each end              │       │ addr, routes │             │ addr, routes │
//   └──────────────────────┘       └──────────────┘             └──────────────┘
//
// A veth pair or a VXLAN netdev costs one batch in the namespace that creates it; configuring an
// interface costs one batch in its namespace, and `configureInterfaces` runs the batches of different
// namespaces in parallel. Command lines come from the pure builders in commands.ts, and everything
// runs through an IpRunner, so this file is tested with the recording fake.
import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { status } from '@grpc/grpc-js';
import {
  configureCommands,
  deleteLinkCommands,
  type InterfaceConfig,
  type LinkEnd,
  type VxlanParams,
  vethPairCommands,
  vxlanCommands,
} from './commands.js';
import {
  type IpRunner,
  isKernelCommandError,
  type NetnsRef,
  newIpRunner,
  type RunOptions,
} from './iproute2.js';
import { checkIfName, parseIp } from './validate.js';

/** Temporary link names start with this, so a sweeper can tell a half-made link from a real one. */
export const TEMP_LINK_PREFIX = 'nsmt';

export interface LinkInfo {
  readonly ifindex: number;
  readonly name: string;
  readonly alias?: string;
  readonly mtu: number;
  /** MAC address ("" for links without one). */
  readonly address: string;
  /** rtnetlink kind ("veth", "vxlan"); absent for plain devices such as lo. */
  readonly kind?: string;
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
  readonly family: 4 | 6;
  readonly flags: readonly string[];
}

export interface VethOptions extends RunOptions {
  /** Where the pair is made before its ends move (default: our own namespace). Temporary names live here. */
  readonly netns?: NetnsRef | null;
}

export interface InterfaceTarget {
  readonly netns: NetnsRef | null;
  readonly ifname: string;
  readonly config: InterfaceConfig;
}

/**
 * Kernel operations for the forwarder. Every method validates its inputs before running anything
 * (INVALID_ARGUMENT naming the field) and reports kernel failures as KernelCommandError. A failed
 * create removes what it made; configure is idempotent (replace semantics) and may be retried.
 */
export interface Dataplane {
  /** A veth pair with each end named, aliased, sized and up in its own namespace. One batch. */
  createVethPair(a: LinkEnd, b: LinkEnd, opts?: VethOptions): Promise<void>;
  /** A VXLAN netdev whose UDP socket lives in `v.underlayNetns` (default: ours), placed at `end`. One batch. */
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
  /** Deletes a link; a link (or namespace) that is already gone is not an error. */
  deleteLink(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<void>;
  listLinks(netns: NetnsRef | null, opts?: RunOptions): Promise<LinkInfo[]>;
  linkAddresses(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<AddressInfo[]>;
  /** IPv4 and IPv6 routes of the main table that use this link. */
  linkRoutes(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<RouteInfo[]>;
  linkMac(netns: NetnsRef | null, name: string, opts?: RunOptions): Promise<string>;
  /** The link holding address `ip` (e.g. the underlay for a tunnel address), or undefined. */
  findAddressOwner(netns: NetnsRef | null, ip: string, opts?: RunOptions): Promise<LinkInfo | undefined>;
}

export interface DataplaneOptions {
  /** Where commands go; default a real `ip` runner. */
  readonly runner?: IpRunner;
  /** Makes temporary link names; default TEMP_LINK_PREFIX + 11 random characters. */
  readonly tempName?: () => string;
  /** Tells whether two namespaces are the same one; default compares dev/ino of the paths. */
  readonly sameNetns?: (a: NetnsRef | null, b: NetnsRef | null) => boolean;
}

/** `newDataplane(runner)` is short for `newDataplane({ runner })`. */
export function newDataplane(opts: DataplaneOptions | IpRunner = {}): Dataplane {
  if (isIpRunner(opts)) opts = { runner: opts };
  return new KernelDataplane(
    opts.runner ?? newIpRunner(),
    opts.tempName ?? randomTempName,
    opts.sameNetns ?? sameNetns,
  );
}

function isIpRunner(x: DataplaneOptions | IpRunner): x is IpRunner {
  return typeof (x as IpRunner).batch === 'function' && typeof (x as IpRunner).json === 'function';
}

export function randomTempName(): string {
  const chars = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(15 - TEMP_LINK_PREFIX.length);
  return TEMP_LINK_PREFIX + Array.from(bytes, (b) => chars[b % chars.length]).join('');
}

/** True when both refer to the same namespace (null = this process's). Unknown paths compare unequal. */
export function sameNetns(a: NetnsRef | null, b: NetnsRef | null): boolean {
  const id = (n: NetnsRef | null) => {
    try {
      const st = statSync(n?.path ?? '/proc/self/ns/net', { bigint: true });
      return `${st.dev}/${st.ino}`;
    } catch {
      return undefined;
    }
  };
  if ((a?.path ?? null) === (b?.path ?? null)) return true;
  const ia = id(a);
  return ia !== undefined && ia === id(b);
}

interface JsonLink {
  ifindex: number;
  ifname: string;
  ifalias?: string;
  mtu: number;
  address?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
}

interface JsonAddr extends Partial<JsonLink> {
  addr_info?: { family: string; local: string; prefixlen: number; scope: string }[];
}

interface JsonRoute {
  dst: string;
  gateway?: string;
  via?: { family: string; host: string };
  scope?: string;
  flags?: string[];
}

class KernelDataplane implements Dataplane {
  constructor(
    private readonly runner: IpRunner,
    private readonly tempName: () => string,
    private readonly same: (a: NetnsRef | null, b: NetnsRef | null) => boolean,
  ) {}

  async createVethPair(a: LinkEnd, b: LinkEnd, opts: VethOptions = {}): Promise<void> {
    const maker = opts.netns ?? null;
    const tmp = { a: this.tempName(), b: this.tempName() };
    // An end in the making namespace is renamed in place: moving a link to its current namespace is a
    // no-op that also skips the rename.
    const here = (e: LinkEnd): LinkEnd => (e.netns && this.same(e.netns, maker) ? { ...e, netns: null } : e);
    const commands = vethPairCommands(here(a), here(b), tmp);
    await this.createOrCleanUp(maker, commands, [tmp.a, tmp.b], { signal: opts.signal });
  }

  async createVxlan(end: LinkEnd, v: VxlanParams, opts: RunOptions = {}): Promise<void> {
    const underlay = v.underlayNetns ?? null;
    const tmp = this.tempName();
    const placed = end.netns && this.same(end.netns, underlay) ? { ...end, netns: null } : end;
    await this.createOrCleanUp(underlay, vxlanCommands(placed, v, tmp), [tmp], opts);
  }

  async configureInterface(
    netns: NetnsRef | null,
    ifname: string,
    cfg: InterfaceConfig,
    opts: RunOptions = {},
  ): Promise<void> {
    await this.runner.batch(netns, configureCommands(ifname, cfg), opts);
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
    const results = await Promise.allSettled(
      [...byNetns.values()].map((g) => this.runner.batch(g.netns, g.commands, opts)),
    );
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  async deleteLink(netns: NetnsRef | null, name: string, opts: RunOptions = {}): Promise<void> {
    try {
      await this.runner.batch(netns, deleteLinkCommands(name), opts);
    } catch (e) {
      if (isKernelCommandError(e) && e.code === status.NOT_FOUND) return;
      throw e;
    }
  }

  async listLinks(netns: NetnsRef | null, opts: RunOptions = {}): Promise<LinkInfo[]> {
    const links = await this.runner.json<JsonLink[]>(netns, ['-d', 'link', 'show'], opts);
    return links.map(toLinkInfo);
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
   * Runs a create batch; if it fails after the create line, deletes the temporary links left in the
   * batch's namespace (a veth end that already moved goes with its peer).
   */
  private async createOrCleanUp(
    netns: NetnsRef | null,
    commands: string[],
    tmpNames: string[],
    opts: RunOptions,
  ): Promise<void> {
    try {
      await this.runner.batch(netns, commands, opts);
    } catch (e) {
      const iproute2SaidNoAtCreate =
        isKernelCommandError(e) &&
        e.command === commands[0] &&
        e.code !== status.CANCELLED &&
        e.code !== status.DEADLINE_EXCEEDED;
      if (!iproute2SaidNoAtCreate) {
        // Not under the caller's signal: the caller may have aborted, and the cleanup must still run.
        await this.runner
          .batch(
            netns,
            tmpNames.map((n) => `link del dev ${n}`),
            { force: true },
          )
          .catch(() => {});
      }
      throw e;
    }
  }
}

function toLinkInfo(l: JsonLink): LinkInfo {
  return {
    ifindex: l.ifindex,
    name: l.ifname,
    ...(l.ifalias ? { alias: l.ifalias } : {}),
    mtu: l.mtu,
    address: l.address ?? '',
    ...(l.linkinfo?.info_kind ? { kind: l.linkinfo.info_kind } : {}),
    up: (l.flags ?? []).includes('UP'),
  };
}

function toRouteInfo(r: JsonRoute, family: 4 | 6): RouteInfo {
  let prefix = r.dst;
  if (prefix === 'default') prefix = family === 4 ? '0.0.0.0/0' : '::/0';
  else if (!prefix.includes('/')) prefix = `${prefix}/${family === 4 ? 32 : 128}`;
  const via = r.gateway ?? r.via?.host;
  return {
    prefix,
    ...(via ? { via } : {}),
    ...(r.scope ? { scope: r.scope } : {}),
    family,
    flags: r.flags ?? [],
  };
}
