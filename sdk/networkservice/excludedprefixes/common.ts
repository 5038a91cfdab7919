// Pure helpers of excludedprefixes: the file format, merging lists, and finding overlaps between what
// a connection got and what it must stay out of.
import type { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { getErrorMessage, invalidArgument } from '../../errors/index.js';
import { formatAddress, HOST_PREFIX_LENGTH, parsePrefix } from '../../tools/ippool/ip.js';
import { parseYamlFile } from '../../tools/yaml-file.js';

/**
 * Parses upstream's excluded_prefixes.yaml (`prefixes: [CIDR, ...]`, written by cmd-exclude-prefixes-k8s).
 * An empty file means no prefixes. Throws INVALID_ARGUMENT naming the file and the bad entry.
 */
export function parsePrefixesFile(text: string, where: string): string[] {
  const doc = parseYamlFile(text, where);
  if (doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw invalidArgument(`failed to parse ${where}: want a mapping with a "prefixes" list`);
  }
  const list = (doc as { prefixes?: unknown }).prefixes;
  if (list === undefined || list === null) return [];
  if (!Array.isArray(list)) throw invalidArgument(`failed to parse ${where}: "prefixes" must be a list`);
  return list.map((p, i) => {
    if (typeof p !== 'string') throw invalidArgument(`invalid prefixes[${i}] in ${where}: not a string`);
    try {
      parsePrefix(p.trim());
    } catch (e) {
      throw invalidArgument(`invalid prefixes[${i}] in ${where}: ${getErrorMessage(e)}`, e);
    }
    return p.trim();
  });
}

/** `a` followed by the entries of `b` it does not have, in order. */
export function mergePrefixes(a: readonly string[], b: readonly string[]): string[] {
  const seen = new Set(a);
  return [...a, ...b.filter((p) => !seen.has(p) && seen.add(p))];
}

/** A prefix a connection got that overlaps one it must avoid. */
export interface Overlap {
  readonly got: string;
  readonly excluded: string;
}

/** Every pair (got, excluded) whose address ranges intersect. Malformed entries are skipped. */
export function overlaps(got: readonly string[], excluded: readonly string[]): Overlap[] {
  const ranges = excluded.flatMap((e) => rangeOf(e).map((r) => ({ text: e, ...r })));
  const out: Overlap[] = [];
  for (const g of got) {
    for (const r of rangeOf(g)) {
      for (const x of ranges) {
        if (x.family === r.family && x.first <= r.last && r.first <= x.last)
          out.push({ got: g, excluded: x.text });
      }
    }
  }
  return out;
}

/**
 * `prefix` minus the excluded ranges, as the fewest CIDRs (halving where a range cuts through): the
 * route a connection may carry without covering what the cluster keeps for itself. Empty when the
 * excluded ranges cover all of it. A malformed prefix is returned unchanged (others check it).
 */
export function subtractPrefixes(prefix: string, excluded: readonly string[]): string[] {
  let p: ReturnType<typeof parsePrefix>;
  try {
    p = parsePrefix(prefix);
  } catch {
    return [prefix];
  }
  const cuts = excluded.flatMap(rangeOf).filter((x) => x.family === p.family);
  const bits = HOST_PREFIX_LENGTH[p.family];
  const out: string[] = [];
  const walk = (first: bigint, length: number) => {
    const last = first + (1n << BigInt(bits - length)) - 1n;
    const touching = cuts.filter((x) => x.first <= last && first <= x.last);
    if (touching.length === 0) return void out.push(`${formatAddress(p.family, first)}/${length}`);
    if (touching.some((x) => x.first <= first && last <= x.last)) return;
    const half = 1n << BigInt(bits - length - 1);
    walk(first, length + 1);
    walk(first + half, length + 1);
  };
  walk(p.first, p.prefixLength);
  return out;
}

/** The prefixes of the routes a connection installs on either side, default routes (/0) left out. */
export function routePrefixes(ip: IPContext | undefined): string[] {
  if (!ip) return [];
  return [...ip.srcRoutes, ...ip.dstRoutes].map((r) => r.prefix).filter((p) => p && !p.endsWith('/0'));
}

/** "10.0.0.1/32 (in 10.0.0.0/8), ..." for messages. */
export function describeOverlaps(list: readonly Overlap[]): string {
  return list.map((o) => `${o.got} (in ${o.excluded})`).join(', ');
}

/** The addresses and routes a connection puts into the client's namespace. */
export function clientPrefixes(ip: IPContext | undefined): string[] {
  if (!ip) return [];
  return [...ip.srcIpAddrs, ...ip.dstIpAddrs, ...ip.srcRoutes.map((r) => r.prefix)].filter(Boolean);
}

/** The addresses an endpoint handed out (the ones IPAM must keep outside the excluded prefixes). */
export function grantedAddresses(ip: IPContext | undefined): string[] {
  if (!ip) return [];
  return [...ip.srcIpAddrs, ...ip.dstIpAddrs];
}

function rangeOf(text: string): { family: 4 | 6; first: bigint; last: bigint }[] {
  try {
    const { family, first, last } = parsePrefix(text);
    return [{ family, first, last }];
  } catch {
    return [];
  }
}
