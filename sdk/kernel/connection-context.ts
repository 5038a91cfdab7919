// What one end of a connection gets from the connection's IPContext, following what upstream's
// kernel elements actually do (sdk-kernel ipcontext/{ipaddress,routes,ipneighbors} with api's
// ipcontext_helpers), not what the proto comments say:
//
//             client (NSC) interface                       endpoint (NSE) interface
//   addrs     src_ip_addrs                                 dst_ip_addrs
//   link      each dst IP not inside one of its own         each src IP not inside one of its own
//   routes    prefixes (masked to the dst's prefix)         prefixes
//   routes    src_routes, next hop = explicit nextHop, or   dst_routes, mirrored with the src IPs
//             the first dst IP of the route's family,
//             unless the route's address lies inside a
//             dst prefix (then it stays a link route, e.g.
//             the point-to-point /32 of the peer)
//   neigh     ip_neighbors                                 ip_neighbors
//   policies  policies (rule + table each, policy.ts)       -
//
// Everything is validated here (INVALID_ARGUMENT naming the proto field) and returned in canonical
// form, so the plan can go straight into configureInterface.
import type { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import { invalidArgument } from '../errors/index.js';
import { type PolicySpec, policyPlan } from './policy.js';
import { type Cidr, checkMac, cidrString, contains, networkString, parseCidr, parseIp } from './validate.js';

export type Side = 'client' | 'endpoint';

/** A route on the interface: with `via` a gateway route (onlink), without it a link-scope route. */
export interface RouteSpec {
  readonly prefix: string;
  readonly via?: string;
}

export interface NeighborSpec {
  readonly ip: string;
  readonly mac: string;
}

export interface InterfacePlan {
  /** Interface addresses in CIDR form, host bits kept ("172.16.1.101/32"). */
  readonly addresses: string[];
  /** Routes with network prefixes ("10.0.0.0/24"), in the order they should be installed. */
  readonly routes: RouteSpec[];
  readonly neighbors: NeighborSpec[];
  /** Client side only, present when the context has `policies` (see policy.ts). */
  readonly policyRoutes?: PolicySpec[];
}

interface Route {
  readonly prefix: string;
  readonly nextHop: string;
}

export function contextPlan(side: Side, ipContext: IPContext | undefined): InterfacePlan {
  const ctx = ipContext;
  const src = (ctx?.srcIpAddrs ?? []).map((a, i) => parseCidr(a, `src_ip_addrs[${i}]`));
  const dst = (ctx?.dstIpAddrs ?? []).map((a, i) => parseCidr(a, `dst_ip_addrs[${i}]`));
  const [own, peer, extra, extraField] =
    side === 'client'
      ? [src, dst, ctx?.srcRoutes ?? [], 'src_routes']
      : [dst, src, ctx?.dstRoutes ?? [], 'dst_routes'];

  const addresses = unique(own.map(cidrString));

  // Keyed by prefix: a later route for the same prefix replaces an earlier one, as `route replace` would.
  const routes = new Map<string, RouteSpec>();
  for (const p of peer) {
    if (!own.some((o) => contains(o, p))) {
      const prefix = networkString(p);
      routes.set(prefix, { prefix });
    }
  }
  extra.forEach((r: Route, i: number) => {
    const spec = routeSpec(r, peer, `${extraField}[${i}]`);
    routes.set(spec.prefix, spec);
  });

  const neighbors = (ctx?.ipNeighbors ?? []).map((n, i) => ({
    ip: parseIp(n.ip, `ip_neighbors[${i}].ip`).ip,
    mac: checkMac(n.hardwareAddress, `ip_neighbors[${i}].hardware_address`),
  }));

  // Upstream applies policies where the client's traffic starts: in the client's namespace.
  const policies = side === 'client' ? policyPlan(ctx?.policies) : [];
  return {
    addresses,
    routes: [...routes.values()],
    neighbors,
    ...(policies.length ? { policyRoutes: policies } : {}),
  };
}

function routeSpec(r: Route, peer: readonly Cidr[], field: string): RouteSpec {
  const prefix = parseCidr(r.prefix, `${field}.prefix`);
  const net = networkString(prefix);
  if (r.nextHop) {
    const via = parseIp(r.nextHop, `${field}.nextHop`);
    if (prefix.family === 6 && via.family === 4) {
      throw invalidArgument(
        `invalid ${field}.nextHop ${JSON.stringify(r.nextHop)}: an IPv6 route needs an IPv6 next hop`,
      );
    }
    return { prefix: net, via: via.ip };
  }
  const sameFamily = peer.filter((p) => p.family === prefix.family);
  // Upstream tests the route's address as written (host bits kept) against the peer's prefixes.
  if (sameFamily.length === 0 || sameFamily.some((p) => contains(p, prefix))) return { prefix: net };
  return { prefix: net, via: sameFamily[0].ip };
}

function unique(xs: string[]): string[] {
  return [...new Set(xs)];
}
