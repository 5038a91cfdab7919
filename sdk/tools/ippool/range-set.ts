// A set of BigInt values kept as sorted, disjoint, non-adjacent inclusive intervals. Cost grows with the
// number of intervals, never with the number of values, so a /64 of IPv6 is as cheap as a /30.

type Interval = [first: bigint, last: bigint];

export class RangeSet {
  private readonly intervals: Interval[] = [];

  static of(...ranges: Array<readonly [bigint, bigint]>): RangeSet {
    const set = new RangeSet();
    for (const [first, last] of ranges) set.add(first, last);
    return set;
  }

  clone(): RangeSet {
    const copy = new RangeSet();
    for (const [first, last] of this.intervals) copy.intervals.push([first, last]);
    return copy;
  }

  get isEmpty(): boolean {
    return this.intervals.length === 0;
  }

  /** Number of values in the set. */
  get size(): bigint {
    let n = 0n;
    for (const [first, last] of this.intervals) n += last - first + 1n;
    return n;
  }

  /** The intervals, lowest first (copies). */
  ranges(): Array<[bigint, bigint]> {
    return this.intervals.map(([first, last]) => [first, last]);
  }

  /** Index of the first interval whose last value is >= x (intervals.length if none). */
  private lowerBound(x: bigint): number {
    let lo = 0;
    let hi = this.intervals.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.intervals[mid]![1] < x) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(x: bigint): boolean {
    const i = this.lowerBound(x);
    return i < this.intervals.length && this.intervals[i]![0] <= x;
  }

  /** True when every value of [first, last] is in the set. */
  covers(first: bigint, last: bigint): boolean {
    const i = this.lowerBound(first);
    return i < this.intervals.length && this.intervals[i]![0] <= first && this.intervals[i]![1] >= last;
  }

  /** True when some value of [first, last] is in the set. */
  intersects(first: bigint, last: bigint): boolean {
    const i = this.lowerBound(first);
    return i < this.intervals.length && this.intervals[i]![0] <= last;
  }

  add(first: bigint, last: bigint): void {
    if (last < first) return;
    // Every interval that overlaps or touches [first, last] merges into it.
    const i = this.lowerBound(first - 1n);
    let j = i;
    let lo = first;
    let hi = last;
    while (j < this.intervals.length && this.intervals[j]![0] <= last + 1n) {
      if (this.intervals[j]![0] < lo) lo = this.intervals[j]![0];
      if (this.intervals[j]![1] > hi) hi = this.intervals[j]![1];
      j++;
    }
    this.intervals.splice(i, j - i, [lo, hi]);
  }

  remove(first: bigint, last: bigint): void {
    if (last < first) return;
    const i = this.lowerBound(first);
    let j = i;
    const keep: Interval[] = [];
    while (j < this.intervals.length && this.intervals[j]![0] <= last) {
      const [lo, hi] = this.intervals[j]!;
      if (lo < first) keep.push([lo, first - 1n]);
      if (hi > last) keep.push([last + 1n, hi]);
      j++;
    }
    this.intervals.splice(i, j - i, ...keep);
  }

  /** x itself when x is not in the set, else the first value above the interval holding it. */
  nextOutside(x: bigint): bigint {
    const i = this.lowerBound(x);
    if (i < this.intervals.length && this.intervals[i]![0] <= x) return this.intervals[i]![1] + 1n;
    return x;
  }

  /** The lowest value of the set inside [first, last] that `skip` does not hold, if any. */
  lowestIn(first: bigint, last: bigint, skip?: RangeSet): bigint | undefined {
    for (let i = this.lowerBound(first); i < this.intervals.length; i++) {
      const [lo, hi] = this.intervals[i]!;
      let candidate = lo > first ? lo : first;
      if (candidate > last) return undefined;
      if (skip) candidate = skip.nextOutside(candidate);
      // skip's intervals are merged, so one step lands outside skip; re-check against this interval.
      if (candidate <= hi && candidate <= last) return candidate;
      if (candidate > last) return undefined;
      // Jump straight to the interval that may hold the candidate (the loop's i++ lands on it).
      first = candidate;
      i = this.lowerBound(first) - 1;
    }
    return undefined;
  }
}
