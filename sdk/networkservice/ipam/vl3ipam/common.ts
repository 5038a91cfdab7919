// Addresses of one vL3 replica: its slice of the network's prefix, its own address in it (the first
// host), and its clients' addresses (the rest). Shared by all connections of the replica.
import { status } from '@grpc/grpc-js';
import { NsmError } from '../../../errors/index.js';
import { formatHostPrefix, parseCidr, tryParseAddress } from '../../../tools/ippool/ip.js';
import { IpPool } from '../../../tools/ippool/ip-pool.js';
import { PrefixSet } from '../../../tools/ippool/prefix-set.js';

/** Request label of a vL3 replica connecting to another: its value is the requesting replica's slice. */
export const PEER_LABEL = 'vl3Slice';

/** The replica's own address in a slice: the first host ("172.16.3.1/32" for 172.16.3.0/24). */
export function replicaAddress(slice: string): string {
  const c = parseCidr(slice);
  return formatHostPrefix(c.family, c.first + 1n);
}

export class SliceAddresses {
  private pool: IpPool | undefined;
  private current: string | undefined;
  private readonly held = new Map<string, bigint>();

  /** The slice this replica holds now (from vl3-ipam); addresses outside it are given up on refresh. */
  setSlice(slice: string): void {
    if (slice === this.current) return;
    const c = parseCidr(slice);
    const pool = new IpPool([slice]);
    // The network address, the replica's own, and (IPv4) the broadcast address are never handed out.
    pool.exclude([formatHostPrefix(c.family, c.first), formatHostPrefix(c.family, c.first + 1n)]);
    if (c.family === 4) pool.exclude([formatHostPrefix(4, c.last)]);
    for (const [id, v] of this.held) if (!pool.takeValue(c.family, v)) this.held.delete(id);
    this.pool = pool;
    this.current = slice;
  }

  get slice(): string | undefined {
    return this.current;
  }

  /**
   * The connection's address: the one it holds, else the one it asks for (`wanted`, a client that
   * reconnects after this replica restarted) if free and not excluded, else the lowest free one.
   */
  allocate(connId: string, wanted: readonly string[], excluded: readonly string[]): string {
    const pool = this.pool;
    if (!pool || !this.current) throw new NsmError(status.UNAVAILABLE, 'vL3 endpoint has no prefix yet');
    const family = parseCidr(this.current).family;
    const skip = PrefixSet.parse(excluded);
    const have = this.held.get(connId);
    if (have !== undefined && !skip.hasValue(family, have)) return formatHostPrefix(family, have);
    if (have !== undefined) this.release(connId);
    for (const w of wanted) {
      const a = tryParseAddress(w);
      if (a && a.family === family && pool.isFreeValue(family, a.value, skip)) {
        pool.takeValue(family, a.value);
        this.held.set(connId, a.value);
        return formatHostPrefix(family, a.value);
      }
    }
    const got = pool.pullValue(family, skip);
    if (!got) {
      throw new NsmError(
        status.RESOURCE_EXHAUSTED,
        `failed to allocate a vL3 address for connection "${connId}": no free address left in ${this.current}${excluded.length ? ` outside ${excluded.join(', ')}` : ''}`,
      );
    }
    this.held.set(connId, got.value);
    return formatHostPrefix(family, got.value);
  }

  release(connId: string): void {
    const v = this.held.get(connId);
    if (v === undefined || !this.current) return;
    this.pool?.releaseValue(parseCidr(this.current).family, v);
    this.held.delete(connId);
  }

  has(connId: string): boolean {
    return this.held.has(connId);
  }

  /** Number of connections holding an address. */
  get size(): number {
    return this.held.size;
  }
}
