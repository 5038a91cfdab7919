// Slices of a vL3 network's prefix, one per vL3 endpoint replica (the core of the vl3-ipam daemon):
// 172.16.0.0/16 cut into /24s. A replica holds its slice while its ManagePrefixes stream lives; when
// the stream ends the slice stays reserved for the same owner for `leaseMs`, so a replica that
// restarts (same name) gets its own slice back and its clients keep their addresses. A slice is never
// given to two owners, never overlaps an excluded prefix, and a DELETE frees it at once.
import { status } from '@grpc/grpc-js';
import { invalidArgument, NsmError } from '../../errors/index.js';
import { type Cidr, formatAddress, HOST_PREFIX_LENGTH, parseCidr, parsePrefix } from './ip.js';

export interface SlicePoolOptions {
  /** The vL3 network's prefix, e.g. "172.16.0.0/16". */
  readonly prefix: string;
  /** Prefix length of one slice, e.g. 24. */
  readonly sliceLength: number;
  /** How long a released slice stays reserved for its owner (ms). */
  readonly leaseMs: number;
  /** Time source (ms); tests pass a fake. */
  readonly now?: () => number;
}

interface Held {
  readonly index: bigint;
  /** Undefined while a stream holds it; else when the reservation ends. */
  expires?: number;
}

export class SlicePool {
  private readonly net: Cidr;
  private readonly size: bigint;
  private readonly count: bigint;
  private readonly byOwner = new Map<string, Held>();
  private readonly now: () => number;

  constructor(private readonly opts: SlicePoolOptions) {
    this.net = parseCidr(opts.prefix);
    const max = HOST_PREFIX_LENGTH[this.net.family];
    if (
      !Number.isInteger(opts.sliceLength) ||
      opts.sliceLength < this.net.prefixLength ||
      opts.sliceLength > max
    ) {
      throw invalidArgument(
        `invalid slice length ${opts.sliceLength}: want ${this.net.prefixLength}..${max} for ${opts.prefix}`,
      );
    }
    this.size = 1n << BigInt(max - opts.sliceLength);
    this.count = 1n << BigInt(opts.sliceLength - this.net.prefixLength);
    this.now = opts.now ?? Date.now;
  }

  /** The slice `owner` holds (or has reserved), if any. */
  held(owner: string): string | undefined {
    const h = this.byOwner.get(owner);
    return h && !this.expired(h) ? this.text(h.index) : undefined;
  }

  /**
   * The owner's slice: the one it holds or had reserved, else `want` if that is a free slice of the
   * prefix, else the first free one. None of them may overlap `exclude`. RESOURCE_EXHAUSTED when
   * nothing is left; INVALID_ARGUMENT for a malformed `want` or exclude entry.
   */
  allocate(owner: string, want: string | undefined, exclude: readonly string[]): string {
    this.expire();
    const excluded = exclude.map((e) => parsePrefix(e));
    const usable = (i: bigint, self: boolean) =>
      (self || !this.takenIndex(i)) && !excluded.some((x) => this.overlaps(i, x));
    const own = this.byOwner.get(owner);
    if (own && usable(own.index, true)) {
      own.expires = undefined;
      return this.text(own.index);
    }
    let index: bigint | undefined;
    if (want) {
      const i = this.indexOf(want);
      if (i !== undefined && usable(i, false)) index = i;
    }
    for (let i = 0n; index === undefined && i < this.count; i++) if (usable(i, false)) index = i;
    if (index === undefined) {
      throw new NsmError(
        status.RESOURCE_EXHAUSTED,
        `failed to allocate a /${this.opts.sliceLength} of ${this.opts.prefix} for ${owner}: all ${this.count} slices are taken or excluded${exclude.length ? ` (excluded: ${exclude.join(', ')})` : ''}`,
      );
    }
    this.byOwner.set(owner, { index });
    return this.text(index);
  }

  /** The stream ended: keep the slice reserved for the owner for `leaseMs`. */
  release(owner: string): void {
    const h = this.byOwner.get(owner);
    if (h && h.expires === undefined) h.expires = this.now() + this.opts.leaseMs;
  }

  /** DELETE: free the owner's slice now. */
  free(owner: string): void {
    this.byOwner.delete(owner);
  }

  /** Slices held or reserved, by owner (for logs and the other replicas' excludes). */
  entries(): Array<{ owner: string; prefix: string; reserved: boolean }> {
    this.expire();
    return [...this.byOwner].map(([owner, h]) => ({
      owner,
      prefix: this.text(h.index),
      reserved: h.expires !== undefined,
    }));
  }

  private takenIndex(i: bigint): boolean {
    for (const h of this.byOwner.values()) if (h.index === i && !this.expired(h)) return true;
    return false;
  }

  private expired(h: Held): boolean {
    return h.expires !== undefined && h.expires <= this.now();
  }

  private expire(): void {
    for (const [owner, h] of this.byOwner) if (this.expired(h)) this.byOwner.delete(owner);
  }

  private overlaps(i: bigint, x: Cidr): boolean {
    if (x.family !== this.net.family) return false;
    const first = this.net.first + i * this.size;
    return x.first <= first + this.size - 1n && first <= x.last;
  }

  /** The index of a slice written exactly as one ("172.16.3.0/24"), else undefined. */
  private indexOf(text: string): bigint | undefined {
    let c: Cidr;
    try {
      c = parseCidr(text);
    } catch {
      return undefined;
    }
    if (c.family !== this.net.family || c.prefixLength !== this.opts.sliceLength) return undefined;
    if (c.first < this.net.first || c.last > this.net.last) return undefined;
    return (c.first - this.net.first) / this.size;
  }

  private text(i: bigint): string {
    return `${formatAddress(this.net.family, this.net.first + i * this.size)}/${this.opts.sliceLength}`;
  }
}
