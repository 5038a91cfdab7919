// Point-to-point address allocation, the pure core of the endpoint's point2pointipam element
// (upstream sdk/pkg/networkservice/ipam/point2pointipam). Each connection gets, per address family
// present in the CIDR list, two host addresses: dst for the endpoint side and src for the client side,
// written into the IPContext as /32 (or /128) with a host route to the other side:
//
//   src_ip_addrs += src/32    src_routes += { prefix: dst/32 }
//   dst_ip_addrs += dst/32    dst_routes += { prefix: src/32 }
//
// With CIDR 172.16.1.100/31 the endpoint gets .100 and the client .101 (dst is pulled first).
//
// Per call, for each family:
// 1. Keep: the connection already holds a pair and neither address is inside the request's
//    excluded_prefixes -> the same pair again (refresh is idempotent).
// 2. Recover: otherwise, if the request carries a src and a dst address that are free in our pool and not
//    excluded (a client reconnecting after this endpoint restarted), take exactly those.
// 3. Allocate: otherwise pull the two lowest free addresses that are not excluded.
// Addresses inside our CIDRs that the request carries but that are not the granted pair (a stale pair
// after a failed recovery, an excluded old pair) are removed from the IPContext together with their host
// routes; upstream leaves stale ones in place, which would put another connection's address on the link.
// A call either succeeds for every family or changes nothing (RESOURCE_EXHAUSTED, INVALID_ARGUMENT).
import { status } from '@grpc/grpc-js';
import type { IPContext, Route } from '../../../api/gen/networkservice/connectioncontext.js';
import { invalidArgument, NsmError } from '../../errors/index.js';
import {
  familyName,
  formatHostPrefix,
  HOST_PREFIX_LENGTH,
  type IpFamily,
  parseCidr,
  tryParseAddress,
} from './ip.js';
import { IpPool } from './ip-pool.js';
import { PrefixSet } from './prefix-set.js';

export interface PointToPointPair {
  family: IpFamily;
  /** Endpoint side, e.g. "172.16.1.100/32". */
  dst: string;
  /** Client side, e.g. "172.16.1.101/32". */
  src: string;
  /** How this call obtained the pair. */
  origin: 'kept' | 'recovered' | 'allocated';
}

export interface PointToPointAllocation {
  /** One pair per family, in the order the families first appear in the CIDR list. */
  pairs: PointToPointPair[];
  /**
   * True when the connection held no addresses before this call. If the request then fails further
   * down the chain, undo with release(connId) (upstream frees only when the addresses were not loaded).
   */
  fresh: boolean;
}

interface HeldPair {
  dst: bigint;
  src: bigint;
}

interface FamilyPool {
  family: IpFamily;
  pool: IpPool;
}

export class PointToPointAllocator {
  private readonly pools: FamilyPool[];
  private readonly held = new Map<string, Map<IpFamily, HeldPair>>();

  /**
   * One pool per address family: CIDRs of the same family are tried in the order given.
   * Throws INVALID_ARGUMENT for an empty list or a malformed CIDR.
   */
  constructor(cidrs: readonly string[]) {
    if (cidrs.length === 0) throw invalidArgument('failed to create point-to-point IPAM: no CIDR given');
    const parsed = cidrs.map((text) => ({ text, family: parseCidr(text.trim()).family }));
    const families = [...new Set(parsed.map((c) => c.family))];
    this.pools = families.map((family) => ({
      family,
      pool: new IpPool(parsed.filter((c) => c.family === family).map((c) => c.text)),
    }));
  }

  /** The pairs a connection holds, if any. */
  get(connId: string): PointToPointPair[] | undefined {
    const held = this.held.get(connId);
    if (!held) return undefined;
    return this.pools.flatMap(({ family }) => {
      const pair = held.get(family);
      return pair ? [toPair(family, pair, 'kept')] : [];
    });
  }

  /** Number of connections holding addresses. */
  get size(): number {
    return this.held.size;
  }

  /** How many connections the pools can serve at once (the smallest family's free pairs). */
  get capacity(): number {
    const held = this.held.size;
    const pairs = this.pools.map(({ family, pool }) => Number(pool.freeCount(family) / 2n) + held);
    return Math.min(...pairs);
  }

  /**
   * Makes the endpoint side (dst_*) the endpoint's alone: drops the destination addresses a request
   * carries outside this allocator's CIDRs and every destination route, so a client cannot have
   * addresses or routes (a default route via itself) installed in the endpoint's namespace.
   * Addresses inside the CIDRs stay for `allocate` to keep or recover (an endpoint restart).
   */
  ownEndpointSide(ipContext: IPContext): void {
    ipContext.dstIpAddrs = ipContext.dstIpAddrs.filter((text) => {
      const addr = tryParseAddress(text);
      return (
        addr !== undefined &&
        this.pools.some(({ family, pool }) => addr.family === family && pool.inCidrs(family, addr.value))
      );
    });
    ipContext.dstRoutes = [];
  }

  /** Gives the connection its pairs and writes them into ipContext (see the file comment). */
  allocate(connId: string, ipContext: IPContext): PointToPointAllocation {
    const skip = PrefixSet.parse(ipContext.excludedPrefixes);
    const previous = this.held.get(connId);
    const taken: Array<{ pool: IpPool; family: IpFamily; value: bigint }> = [];
    const dropped: Array<{ pool: IpPool; family: IpFamily; value: bigint }> = [];
    const take = (pool: IpPool, family: IpFamily, value: bigint) => {
      pool.takeValue(family, value);
      taken.push({ pool, family, value });
    };
    const pairs: Array<{
      family: IpFamily;
      pool: IpPool;
      held: HeldPair;
      origin: PointToPointPair['origin'];
    }> = [];
    try {
      for (const { family, pool } of this.pools) {
        let held = previous?.get(family);
        let origin: PointToPointPair['origin'] = 'kept';
        if (held && (skip.hasValue(family, held.dst) || skip.hasValue(family, held.src))) {
          for (const value of [held.dst, held.src]) {
            pool.releaseValue(family, value);
            dropped.push({ pool, family, value });
          }
          held = undefined;
        }
        if (!held) {
          origin = 'recovered';
          held = recoverPair(pool, family, ipContext, skip);
          if (held) {
            take(pool, family, held.src);
            take(pool, family, held.dst);
          }
        }
        if (!held) {
          origin = 'allocated';
          const dst = pool.pullValue(family, skip);
          if (dst) taken.push({ pool, family, value: dst.value });
          const src = dst && pool.pullValue(family, skip);
          if (src) taken.push({ pool, family, value: src.value });
          if (!dst || !src) throw exhausted(connId, family, pool, skip);
          held = { dst: dst.value, src: src.value };
        }
        pairs.push({ family, pool, held, origin });
      }
    } catch (e) {
      for (const { pool, family, value } of taken.reverse()) pool.releaseValue(family, value);
      for (const { pool, family, value } of dropped) pool.takeValue(family, value);
      throw e;
    }

    this.held.set(connId, new Map(pairs.map(({ family, held }) => [family, held])));
    for (const { family, pool, held } of pairs) writePair(ipContext, family, pool, held);
    return {
      pairs: pairs.map(({ family, held, origin }) => toPair(family, held, origin)),
      fresh: previous === undefined,
    };
  }

  /** Frees the connection's addresses. Unknown ids are ignored. */
  release(connId: string): void {
    const held = this.held.get(connId);
    if (!held) return;
    for (const { family, pool } of this.pools) {
      const pair = held.get(family);
      if (!pair) continue;
      pool.releaseValue(family, pair.dst);
      pool.releaseValue(family, pair.src);
    }
    this.held.delete(connId);
  }
}

function toPair(family: IpFamily, held: HeldPair, origin: PointToPointPair['origin']): PointToPointPair {
  return { family, dst: formatHostPrefix(family, held.dst), src: formatHostPrefix(family, held.src), origin };
}

/** The first src and first dst address of the request that are free in the pool and not excluded. */
function recoverPair(
  pool: IpPool,
  family: IpFamily,
  ipContext: IPContext,
  skip: PrefixSet,
): HeldPair | undefined {
  const usable = (text: string, other?: bigint): bigint | undefined => {
    const addr = tryParseAddress(text);
    if (!addr || addr.family !== family || addr.value === other) return undefined;
    return pool.isFreeValue(family, addr.value, skip) ? addr.value : undefined;
  };
  const firstUsable = (texts: string[], other?: bigint): bigint | undefined => {
    for (const text of texts) {
      const value = usable(text, other);
      if (value !== undefined) return value;
    }
    return undefined;
  };
  const src = firstUsable(ipContext.srcIpAddrs);
  const dst = src === undefined ? undefined : firstUsable(ipContext.dstIpAddrs, src);
  return src === undefined || dst === undefined ? undefined : { src, dst };
}

function exhausted(connId: string, family: IpFamily, pool: IpPool, skip: PrefixSet): NsmError {
  const excluded = skip.family(family).isEmpty ? '' : ' outside the excluded prefixes';
  return new NsmError(
    status.RESOURCE_EXHAUSTED,
    `failed to allocate point-to-point addresses for connection "${connId}": fewer than 2 free ` +
      `${familyName(family)} addresses left in ${pool.describe()}${excluded}`,
  );
}

/** An address inside the pool's CIDRs, as written in an IPContext (a host prefix, or bare). */
function poolHost(text: string, family: IpFamily, pool: IpPool): bigint | undefined {
  const addr = tryParseAddress(text);
  if (!addr || addr.family !== family) return undefined;
  if (addr.prefixLength !== undefined && addr.prefixLength !== HOST_PREFIX_LENGTH[family]) return undefined;
  return pool.inCidrs(family, addr.value) ? addr.value : undefined;
}

/** Keeps one canonical entry for the granted address in place (or appends it) and drops other pool hosts. */
function reconcileAddrs(addrs: string[], family: IpFamily, pool: IpPool, granted: bigint): string[] {
  const canonical = formatHostPrefix(family, granted);
  const out: string[] = [];
  let placed = false;
  for (const text of addrs) {
    const addr = tryParseAddress(text);
    if (!addr || addr.family !== family || !pool.inCidrs(family, addr.value)) {
      out.push(text);
    } else if (addr.value === granted && !placed) {
      out.push(canonical);
      placed = true;
    }
  }
  if (!placed) out.push(canonical);
  return out;
}

/** Same for host routes: one route to the granted address (its nextHop kept), other pool host routes dropped. */
function reconcileRoutes(routes: Route[], family: IpFamily, pool: IpPool, granted: bigint): Route[] {
  const canonical = formatHostPrefix(family, granted);
  const out: Route[] = [];
  let placed = false;
  for (const route of routes) {
    const host = poolHost(route.prefix, family, pool);
    if (host === undefined) {
      out.push(route);
    } else if (host === granted && !placed) {
      out.push({ ...route, prefix: canonical });
      placed = true;
    }
  }
  if (!placed) out.push({ prefix: canonical, nextHop: '' });
  return out;
}

function writePair(ipContext: IPContext, family: IpFamily, pool: IpPool, held: HeldPair): void {
  ipContext.srcIpAddrs = reconcileAddrs(ipContext.srcIpAddrs, family, pool, held.src);
  ipContext.dstIpAddrs = reconcileAddrs(ipContext.dstIpAddrs, family, pool, held.dst);
  ipContext.srcRoutes = reconcileRoutes(ipContext.srcRoutes, family, pool, held.dst);
  ipContext.dstRoutes = reconcileRoutes(ipContext.dstRoutes, family, pool, held.src);
}
