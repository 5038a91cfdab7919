// The checks diagnose runs on one connection, each a line of evidence: the control plane hop by hop
// (does the hop's daemon answer, is it registered, does it hold the connection, UP, and the same
// view as the hop before it), the kernel objects at both ends against the connection context, the
// underlay between the nodes of a remote connection, and traffic through the connection.
import { type Connection, State, stateToJSON } from '../api/gen/networkservice/connection.js';
import { getErrorMessage } from '../sdk/errors/index.js';
import type { Daemon, Hop, Snapshot } from './inspect.js';
import type { KernelEnd } from './kernel-state.js';

/**
 * Why a check failed, in the order diagnose weighs them: a dead or hung daemon explains what
 * follows it (its neighbours mark the connection DOWN), a missing kernel object explains lost
 * traffic, and so on. The verdict names the first failing check in this order.
 */
export const CAUSES = [
  'unreachable',
  'not-answering',
  'registry-unreachable',
  'not-registered',
  'namespace-gone',
  'interface-missing',
  'link-down',
  'address-missing',
  'route-missing',
  'vxlan-mismatch',
  'underlay-down',
  'not-held',
  'down',
  'view-mismatch',
  'no-traffic',
] as const;
export type Cause = (typeof CAUSES)[number];

export interface Check {
  /** The hop (or "registry", "underlay") the check is about. */
  hop: string;
  what: string;
  ok: boolean;
  /** Set when the check failed. */
  cause?: Cause;
  detail: string;
  /** Could not be checked (no daemon to ask, no namespace to enter): neither pass nor fail. */
  skipped?: boolean;
}

export type HopKind = 'client' | 'nsmgr' | 'forwarder' | 'endpoint';

/** A hop's role from its place on the path: client, nsmgr, forwarder, [nsmgr, forwarder], endpoint. */
export function hopKind(i: number, count: number): HopKind {
  if (i === 0) return 'client';
  if (i === count - 1) return 'endpoint';
  return i % 2 === 1 ? 'nsmgr' : 'forwarder';
}

const isTimeout = (e: Error) => /no answer within|DEADLINE/i.test(getErrorMessage(e));

/** The daemon asked for a hop that holds nothing: a dead nsmgr has no name; match it by its socket. */
function daemonFor(snap: Snapshot, hop: Hop, kind: HopKind, hops: Hop[]): Daemon | undefined {
  if (hop.daemon) return hop.daemon;
  const silent = snap.daemons.filter((d) => d.error && !d.name && (kind !== 'nsmgr' || d.kind === 'nsmgr'));
  // The sandbox names an nsmgr after its node, and keeps its socket in a directory of that name.
  const bySuffix = silent.find((d) => {
    const dir = /\/([^/]+)\/[^/]+\.sock$/.exec(d.url)?.[1];
    return dir !== undefined && hop.name.endsWith(`-${dir}`) && d.kind === kind;
  });
  if (bySuffix) return bySuffix;
  const unmatched = hops.filter((h, i) => !h.daemon && hopKind(i, hops.length) === kind);
  const silentOfKind = silent.filter((d) => d.kind === kind);
  return unmatched.length === 1 && silentOfKind.length === 1 ? silentOfKind[0] : undefined;
}

/** Why a daemon's registration may have lapsed: its nsmgr cannot reach the registry. */
function lostRegistry(snap: Snapshot, d: Daemon | undefined): string {
  const e = d?.nsmgr ? snap.proxyErrors.get(d.nsmgr) : undefined;
  if (!e || !d?.nsmgr) return '';
  const name = snap.daemons.find((x) => x.url === d.nsmgr)?.name || d.nsmgr;
  return `; its nsmgr ${name} cannot reach the registry: ${getErrorMessage(e)}`;
}

export function controlChecks(snap: Snapshot, hops: Hop[]): Check[] {
  const checks: Check[] = [];
  if (snap.registryError) {
    checks.push({
      hop: 'registry',
      what: 'answers Find',
      ok: false,
      cause: 'registry-unreachable',
      detail: getErrorMessage(snap.registryError),
    });
  } else {
    checks.push({
      hop: 'registry',
      what: 'answers Find',
      ok: true,
      detail: `${snap.registered.length} registered`,
    });
  }
  hops.forEach((h, i) => {
    const kind = hopKind(i, hops.length);
    if (kind === 'client') return; // a client serves nothing to ask; its end is checked in the kernel
    const d = daemonFor(snap, h, kind, hops);
    const what = `${kind} ${h.name}`;
    if (!d) {
      checks.push({
        hop: h.name,
        what: `${what} answers`,
        ok: true,
        skipped: true,
        detail: 'not asked (no URL known for it)',
      });
    } else if (d.error) {
      const hung = isTimeout(d.error);
      checks.push({
        hop: h.name,
        what: `${what} answers at ${d.url}`,
        ok: false,
        cause: hung ? 'not-answering' : 'unreachable',
        detail: hung
          ? `${getErrorMessage(d.error)} (stopped or hung)`
          : `${getErrorMessage(d.error)} (not running?)`,
      });
      return;
    } else {
      checks.push({
        hop: h.name,
        what: `${what} answers at ${d.url}`,
        ok: true,
        detail: 'MonitorConnections answered',
      });
    }
    if ((kind === 'forwarder' || kind === 'endpoint') && !snap.registryError) {
      const reg = snap.registered.find((e) => e.name === h.name);
      checks.push(
        reg
          ? {
              hop: h.name,
              what: `${what} is registered`,
              ok: true,
              detail: `expires ${reg.expirationTime?.toISOString() ?? 'never'}`,
            }
          : {
              hop: h.name,
              what: `${what} is registered`,
              ok: false,
              cause: 'not-registered',
              detail: `the registry has no entry of this name (registration expired or removed)${lostRegistry(snap, d)}`,
            },
      );
    }
    if (!d) return;
    if (!h.held) {
      checks.push({
        hop: h.name,
        what: `${what} holds the connection`,
        ok: false,
        cause: 'not-held',
        detail: `no connection with id ${h.id}`,
      });
      return;
    }
    const up = h.held.state === State.UP;
    checks.push({
      hop: h.name,
      what: `${what} holds the connection`,
      ok: up,
      cause: up ? undefined : 'down',
      detail: `state ${stateToJSON(h.held.state)}`,
    });
    const prev = hops[i - 1]?.held;
    if (prev) {
      const diff = viewDiff(prev, h.held);
      checks.push({
        hop: h.name,
        what: `${what} sees it as ${hops[i - 1].name} does`,
        ok: diff === '',
        cause: diff === '' ? undefined : 'view-mismatch',
        detail: diff || 'same path, endpoint and context',
      });
    }
  });
  return checks;
}

/** What two neighbouring hops disagree on: the path they share, the endpoint, the addresses. */
export function viewDiff(a: Connection, b: Connection): string {
  const ids = (c: Connection) => (c.path?.pathSegments ?? []).map((s) => s.id);
  const [pa, pb] = [ids(a), ids(b)];
  const shared = Math.min(pa.length, pb.length);
  for (let i = 0; i < shared; i++) {
    if (pa[i] !== pb[i]) return `path segment ${i}: ${pa[i]} here, ${pb[i]} there`;
  }
  if (a.networkServiceEndpointName !== b.networkServiceEndpointName) {
    return `endpoint ${a.networkServiceEndpointName || '<none>'} vs ${b.networkServiceEndpointName || '<none>'}`;
  }
  const src = (c: Connection) => (c.context?.ipContext?.srcIpAddrs ?? []).join(',');
  if (src(a) !== src(b)) return `source addresses ${src(a)} vs ${src(b)}`;
  return '';
}

/** The kernel objects at one end against the context: `addrs` it must carry, routes to `routes`. */
export function kernelChecks(
  hop: string,
  side: string,
  end: KernelEnd,
  addrs: string[],
  routes: string[],
  vni?: string,
): Check[] {
  const where = `${side} end ${end.ifname || '?'} in ${end.netnsName ?? '?'}`;
  if (end.error) {
    const gone = /namespace .* not found/.test(end.error);
    // Anything else that stops `ip` from reading the link (no such device, most often) counts as missing.
    return [
      {
        hop,
        what: `${where} exists`,
        ok: false,
        cause: gone ? 'namespace-gone' : 'interface-missing',
        detail: end.error,
      },
    ];
  }
  const checks: Check[] = [
    { hop, what: `${where} exists`, ok: true, detail: `${end.kind ?? 'device'}, mtu ${end.mtu}` },
  ];
  const up = end.up === true;
  checks.push({
    hop,
    what: `${where} is up`,
    ok: up,
    cause: up ? undefined : 'link-down',
    detail: `${end.up ? 'up' : 'admin down'}, oper ${end.operState}`,
  });
  const have = new Set(end.addresses);
  const lost = addrs.filter((a) => !have.has(a));
  checks.push({
    hop,
    what: `${where} has ${addrs.join(', ') || 'no address to check'}`,
    ok: lost.length === 0,
    cause: lost.length ? 'address-missing' : undefined,
    detail: lost.length
      ? `missing ${lost.join(', ')} (has ${end.addresses.join(', ') || 'none'})`
      : 'present',
  });
  const haveRoutes = new Set(end.routes.map((r) => r.split(' ')[0]));
  const noRoute = routes
    .map((r) => r.replace(/\/32$|\/128$/, ''))
    .filter((r) => !haveRoutes.has(r) && !haveRoutes.has(`${r}/32`));
  checks.push({
    hop,
    what: `${where} routes ${routes.join(', ') || 'nothing to check'}`,
    ok: noRoute.length === 0,
    cause: noRoute.length ? 'route-missing' : undefined,
    detail: noRoute.length
      ? `no route to ${noRoute.join(', ')} (has ${end.routes.join(', ') || 'none'})`
      : 'present',
  });
  if (vni !== undefined) {
    const ok = end.vxlan !== undefined && String(end.vxlan.vni) === vni;
    checks.push({
      hop,
      what: `${where} is VXLAN ${vni}`,
      ok,
      cause: ok ? undefined : 'vxlan-mismatch',
      detail: end.vxlan
        ? `vni ${end.vxlan.vni}, remote ${end.vxlan.remote}`
        : `a ${end.kind ?? 'plain'} link, not VXLAN`,
    });
  }
  return checks;
}
