// Kernel state of every namespace of a sandbox, for leak checks: links, addresses, routes (every
// table, both families) and neighbour entries. A snapshot is a set of one-line descriptions per
// namespace, so "what is left over" is a set difference against the state before the connections.
import type { Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { until } from './common.js';

export interface KernelLink {
  netns: string;
  ifname: string;
  ifindex: number;
  kind: string;
  alias: string;
  up: boolean;
}

export interface KernelState {
  links: KernelLink[];
  /** "netns|kind|description" for every object; links, addresses, routes, neighbours. */
  objects: Set<string>;
}

/** Neighbour states the kernel creates and ages by itself (ARP/ND traffic), not configuration. */
const DYNAMIC_NEIGH = new Set(['REACHABLE', 'STALE', 'DELAY', 'PROBE', 'FAILED', 'INCOMPLETE', 'NONE']);

interface RawLink {
  ifname: string;
  ifindex: number;
  ifalias?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string };
}
interface RawAddr {
  ifname: string;
  addr_info: { family: string; local: string; prefixlen: number }[];
}
interface RawRoute {
  type?: string;
  dst: string;
  gateway?: string;
  via?: { family: string; host: string };
  dev?: string;
  table?: string;
  scope?: string;
}
interface RawNeigh {
  dst: string;
  dev: string;
  lladdr?: string;
  state?: string[];
}

async function ipJson<T>(netns: string, args: string[]): Promise<T[]> {
  const out = await sh('ip', ['-n', netns, '-json', ...args]);
  return out.trim() ? (JSON.parse(out) as T[]) : [];
}

/** Every namespace the sandbox made: the underlay bridge, the nodes and the pods. */
export function sandboxNamespaces(sb: Sandbox): string[] {
  return [`${sb.id}-net`, ...sb.nodes.map((n) => n.netns), ...sb.pods.map((p) => p.netns)];
}

export async function namespaceState(netns: string): Promise<KernelState> {
  const [rawLinks, addrs, routes4, routes6, neighs] = await Promise.all([
    ipJson<RawLink>(netns, ['-d', 'link', 'show']),
    ipJson<RawAddr>(netns, ['addr', 'show']),
    ipJson<RawRoute>(netns, ['-4', 'route', 'show', 'table', 'all']),
    ipJson<RawRoute>(netns, ['-6', 'route', 'show', 'table', 'all']),
    ipJson<RawNeigh>(netns, ['neigh', 'show']),
  ]);
  const objects = new Set<string>();
  const links: KernelLink[] = rawLinks.map((l) => ({
    netns,
    ifname: l.ifname,
    ifindex: l.ifindex,
    kind: l.linkinfo?.info_kind ?? '',
    alias: l.ifalias ?? '',
    up: l.flags?.includes('UP') ?? false,
  }));
  for (const l of links)
    objects.add(`${netns}|link|${l.ifname} ${l.kind}${l.alias ? ` alias ${l.alias}` : ''}`);
  // IPv6 link-local addresses and the routes the kernel makes for every link (fe80::/64, the local
  // fe80:: host route, ff00::/8) come and go with the link itself and with DAD; they are not ours.
  const automatic = (dst: string) => dst.startsWith('fe80') || dst === 'ff00::/8';
  for (const a of addrs) {
    for (const i of a.addr_info)
      if (!automatic(i.local)) objects.add(`${netns}|addr|${a.ifname} ${i.local}/${i.prefixlen}`);
  }
  for (const r of [...routes4, ...routes6]) {
    if (automatic(r.dst)) continue;
    const via = r.gateway ?? r.via?.host;
    objects.add(
      `${netns}|route|${r.type ?? 'unicast'} ${r.dst}${via ? ` via ${via}` : ''}${r.dev ? ` dev ${r.dev}` : ''} table ${r.table ?? 'main'}`,
    );
  }
  for (const n of neighs) {
    const state = n.state ?? [];
    if (state.length > 0 && state.every((s) => DYNAMIC_NEIGH.has(s))) continue;
    objects.add(
      `${netns}|neigh|${n.dst} dev ${n.dev}${n.lladdr ? ` lladdr ${n.lladdr}` : ''} ${state.join(',')}`,
    );
  }
  return { links, objects };
}

/** The state of every namespace of the sandbox (namespaces that no longer exist are skipped). */
export async function sandboxState(sb: Sandbox): Promise<KernelState> {
  const all: KernelState = { links: [], objects: new Set() };
  const states = await Promise.all(
    sandboxNamespaces(sb).map((ns) => namespaceState(ns).catch(() => undefined)),
  );
  for (const s of states) {
    if (!s) continue;
    all.links.push(...s.links);
    for (const o of s.objects) all.objects.add(o);
  }
  return all;
}

/** Objects in `now` that were not in `before`, sorted. */
export function added(before: KernelState, now: KernelState): string[] {
  return [...now.objects].filter((o) => !before.objects.has(o)).sort();
}

/** Links in `now` that were not in `before` (by namespace and name). */
/** What the sandbox's kernel still holds beyond `baseline` once clean-up settled (polled up to `withinMs`). */
export async function leftoversAfter(
  sb: Sandbox,
  baseline: KernelState,
  withinMs: number,
): Promise<string[]> {
  const none = await until(
    async () => (added(baseline, await sandboxState(sb)).length === 0 ? [] : undefined),
    withinMs,
    100,
  );
  return none ?? added(baseline, await sandboxState(sb));
}

export function addedLinks(before: KernelState, now: KernelState): KernelLink[] {
  const had = new Set(before.links.map((l) => `${l.netns}|${l.ifname}`));
  return now.links.filter((l) => !had.has(`${l.netns}|${l.ifname}`));
}

/** Addresses of one interface, sorted (IPv6 link-local excluded). */
export async function interfaceAddresses(netns: string, ifname: string): Promise<string[]> {
  const out = await ipJson<RawAddr>(netns, ['addr', 'show', 'dev', ifname]).catch(() => []);
  return out
    .flatMap((a) => a.addr_info)
    .filter((i) => !(i.family === 'inet6' && i.local.startsWith('fe80')))
    .map((i) => `${i.local}/${i.prefixlen}`)
    .sort();
}
