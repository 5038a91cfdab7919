// A set of addresses of both families, built from prefixes such as IPContext.excluded_prefixes.
import { type IpFamily, parseAddress, parsePrefix } from './ip.js';
import { RangeSet } from './range-set.js';

export class PrefixSet {
  private readonly sets: Record<IpFamily, RangeSet> = { 4: new RangeSet(), 6: new RangeSet() };

  /**
   * Builds the set from CIDRs ("10.0.0.0/8", "fd00::/8") or bare addresses (one host each).
   * Throws INVALID_ARGUMENT naming the first malformed entry.
   */
  static parse(prefixes: Iterable<string>): PrefixSet {
    const set = new PrefixSet();
    for (const text of prefixes) set.add(text);
    return set;
  }

  add(prefix: string): void {
    const { family, first, last } = parsePrefix(prefix);
    this.sets[family].add(first, last);
  }

  /** The addresses of one family as a RangeSet (live view, do not mutate). */
  family(family: IpFamily): RangeSet {
    return this.sets[family];
  }

  get isEmpty(): boolean {
    return this.sets[4].isEmpty && this.sets[6].isEmpty;
  }

  hasValue(family: IpFamily, value: bigint): boolean {
    return this.sets[family].has(value);
  }

  /** True when the address (optionally written "addr/len"; the length is ignored) is in the set. */
  contains(address: string): boolean {
    const { family, value } = parseAddress(address);
    return this.sets[family].has(value);
  }

  /** True when the prefix overlaps the set at all. */
  overlaps(prefix: string): boolean {
    const { family, first, last } = parsePrefix(prefix);
    return this.sets[family].intersects(first, last);
  }
}
