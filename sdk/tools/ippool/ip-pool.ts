// An IP address pool over a list of CIDRs of either family. Free addresses are kept as BigInt ranges
// (RangeSet), so a pool over fd00::/8 costs no more than one over a /30, and allocation is deterministic:
// CIDRs are tried in the order given, and inside a CIDR the lowest free address is taken.
//
// Unlike upstream's ippool (sdk/pkg/tools/ippool), release() never grows the pool: an address that is not
// inside the configured CIDRs (or was excluded) is ignored instead of being added.
import { status } from '@grpc/grpc-js';
import { invalidArgument, NsmError } from '../../errors/index.js';
import {
  type Cidr,
  familyName,
  formatAddress,
  type IpFamily,
  parseAddress,
  parseCidr,
  parsePrefix,
} from './ip.js';
import { PrefixSet } from './prefix-set.js';
import { RangeSet } from './range-set.js';

export interface PullOptions {
  /** Only take an address of this family. Default: any, CIDRs in the order given. */
  family?: IpFamily;
  /** Addresses to skip for this call only, e.g. a request's excluded_prefixes. */
  exclude?: PrefixSet | readonly string[];
}

function toPrefixSet(exclude: PullOptions['exclude']): PrefixSet | undefined {
  if (exclude === undefined || exclude instanceof PrefixSet) return exclude;
  return PrefixSet.parse(exclude);
}

export class IpPool {
  private readonly cidrs: readonly Cidr[];
  /** Addresses this pool hands out: the CIDRs minus permanent exclusions. */
  private readonly managed: Record<IpFamily, RangeSet> = { 4: new RangeSet(), 6: new RangeSet() };
  /** Managed addresses not currently pulled. */
  private readonly free: Record<IpFamily, RangeSet> = { 4: new RangeSet(), 6: new RangeSet() };

  /** Throws INVALID_ARGUMENT naming the first malformed CIDR. CIDRs may mix families and overlap. */
  constructor(cidrs: readonly string[]) {
    this.cidrs = cidrs.map((text) => parseCidr(text.trim()));
    for (const { family, first, last } of this.cidrs) {
      this.managed[family].add(first, last);
      this.free[family].add(first, last);
    }
  }

  /** The CIDRs as given. */
  get cidrTexts(): string[] {
    return this.cidrs.map((c) => c.text);
  }

  /** The families present, in order of first appearance in the CIDR list. */
  get families(): IpFamily[] {
    return [...new Set(this.cidrs.map((c) => c.family))];
  }

  /** Removes prefixes from the pool for good (addresses already pulled stay pulled, but are never released back). */
  exclude(prefixes: readonly string[]): void {
    for (const text of prefixes) {
      const { family, first, last } = parsePrefix(text);
      this.managed[family].remove(first, last);
      this.free[family].remove(first, last);
    }
  }

  /** Takes the next free address, e.g. "172.16.1.100". Throws RESOURCE_EXHAUSTED when none is left. */
  pull(opts: PullOptions = {}): string {
    const skip = toPrefixSet(opts.exclude);
    const value = this.pullValue(opts.family, skip);
    if (value === undefined) throw this.exhausted(opts.family, skip);
    return formatAddress(value.family, value.value);
  }

  /** pull() without formatting or throwing; undefined when exhausted. */
  pullValue(family: IpFamily | undefined, skip?: PrefixSet): { family: IpFamily; value: bigint } | undefined {
    for (const cidr of this.cidrs) {
      if (family !== undefined && cidr.family !== family) continue;
      const value = this.free[cidr.family].lowestIn(cidr.first, cidr.last, skip?.family(cidr.family));
      if (value !== undefined) {
        this.free[cidr.family].remove(value, value);
        return { family: cidr.family, value };
      }
    }
    return undefined;
  }

  /**
   * Takes one given address ("10.0.0.5" or "10.0.0.5/32"; a prefix length is ignored) and returns its
   * canonical text. Throws INVALID_ARGUMENT when it is malformed or outside the pool, ALREADY_EXISTS when
   * it is in use, FAILED_PRECONDITION when `exclude` holds it.
   */
  pullSpecific(ip: string, opts: Pick<PullOptions, 'exclude'> = {}): string {
    const { family, value } = parseAddress(ip);
    const text = formatAddress(family, value);
    if (!this.managed[family].has(value)) {
      throw invalidArgument(`failed to pull ${text}: outside the pool ${this.describe()}`);
    }
    if (!this.free[family].has(value)) {
      throw new NsmError(status.ALREADY_EXISTS, `failed to pull ${text}: already in use`);
    }
    if (toPrefixSet(opts.exclude)?.hasValue(family, value)) {
      throw new NsmError(status.FAILED_PRECONDITION, `failed to pull ${text}: inside an excluded prefix`);
    }
    this.free[family].remove(value, value);
    return text;
  }

  /** Takes one given address if it is free; false when it is not (no error). */
  takeValue(family: IpFamily, value: bigint): boolean {
    if (!this.free[family].has(value)) return false;
    this.free[family].remove(value, value);
    return true;
  }

  /** Returns an address to the pool. True if it was in use and now is free; false otherwise (no error). */
  release(ip: string): boolean {
    const { family, value } = parseAddress(ip);
    return this.releaseValue(family, value);
  }

  releaseValue(family: IpFamily, value: bigint): boolean {
    if (!this.managed[family].has(value) || this.free[family].has(value)) return false;
    this.free[family].add(value, value);
    return true;
  }

  /** True when the pool manages the address (inside a CIDR and not excluded), used or not. */
  contains(ip: string): boolean {
    const { family, value } = parseAddress(ip);
    return this.managed[family].has(value);
  }

  /** True when the address is inside one of the CIDRs, even if it was excluded. */
  inCidrs(family: IpFamily, value: bigint): boolean {
    return this.cidrs.some((c) => c.family === family && c.first <= value && value <= c.last);
  }

  /** True when the pool manages the address, it is not in use and `exclude` does not hold it. */
  isFree(ip: string, opts: Pick<PullOptions, 'exclude'> = {}): boolean {
    const { family, value } = parseAddress(ip);
    return this.isFreeValue(family, value, toPrefixSet(opts.exclude));
  }

  isFreeValue(family: IpFamily, value: bigint, skip?: PrefixSet): boolean {
    return this.free[family].has(value) && !skip?.hasValue(family, value);
  }

  /** How many addresses are free (of one family, or of both). */
  freeCount(family?: IpFamily): bigint {
    if (family !== undefined) return this.free[family].size;
    return this.free[4].size + this.free[6].size;
  }

  describe(family?: IpFamily): string {
    const texts = this.cidrs.filter((c) => family === undefined || c.family === family).map((c) => c.text);
    return `[${texts.join(', ')}]`;
  }

  private exhausted(family: IpFamily | undefined, skip: PrefixSet | undefined): NsmError {
    const what = family === undefined ? 'address' : `${familyName(family)} address`;
    const excluded = skip && !skip.isEmpty ? ' outside the excluded prefixes' : '';
    return new NsmError(
      status.RESOURCE_EXHAUSTED,
      `failed to pull an address from pool ${this.describe(family)}: no free ${what} left${excluded}`,
    );
  }
}
