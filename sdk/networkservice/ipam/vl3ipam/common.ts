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
  /** Addresses members held before a restart (found in the kernel), kept for them until they refresh. */
  private readonly reserved = new Map<bigint, number>();
  /** The same, by member (from the state file): the member gets it back even if it asks without it. */
  private readonly reservedFor = new Map<string, bigint>();

  /**
   * @param now time source (ms), for reservations
   * @param onChange called after every change of who holds what (to save the state)
   */
  constructor(
    private readonly now: () => number = Date.now,
    private readonly onChange?: () => void,
  ) {}

  /** member key → address, for the state file. */
  snapshot(): Record<string, string> {
    const family = this.current ? parseCidr(this.current).family : 4;
    const out: Record<string, string> = {};
    for (const [k, v] of this.reservedFor) out[k] = formatHostPrefix(family, v);
    for (const [k, v] of this.held) out[k] = formatHostPrefix(family, v);
    return out;
  }

  /** What a snapshot of an earlier run said: each member's address, reserved for it until `untilMs`. */
  restore(entries: Readonly<Record<string, string>>, untilMs: number): void {
    if (!this.pool || !this.current) return;
    const family = parseCidr(this.current).family;
    for (const [key, text] of Object.entries(entries)) {
      const a = tryParseAddress(text);
      if (a && a.family === family && this.pool.takeValue(family, a.value)) {
        this.reserved.set(a.value, untilMs);
        this.reservedFor.set(key, a.value);
      }
    }
  }

  /**
   * Keeps addresses that members hold (a restarted replica finds them on its interfaces) out of reach
   * of new members until `untilMs`; a member refreshing with one gets it back. Call after setSlice.
   */
  reserve(addrs: readonly string[], untilMs: number): void {
    if (!this.pool || !this.current) return;
    const family = parseCidr(this.current).family;
    for (const text of addrs) {
      const a = tryParseAddress(text);
      if (a && a.family === family && this.pool.takeValue(family, a.value))
        this.reserved.set(a.value, untilMs);
    }
  }

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
    this.expireReservations(family);
    const mine = this.reservedFor.get(connId);
    if (mine !== undefined && !skip.hasValue(family, mine)) {
      this.reserved.delete(mine);
      this.reservedFor.delete(connId);
      this.held.set(connId, mine);
      this.onChange?.();
      return formatHostPrefix(family, mine);
    }
    for (const w of wanted) {
      const a = tryParseAddress(w);
      if (a && a.family === family && this.reserved.has(a.value) && !skip.hasValue(family, a.value)) {
        this.reserved.delete(a.value); // its member is back
        for (const [k, v] of this.reservedFor) if (v === a.value) this.reservedFor.delete(k);
        this.held.set(connId, a.value);
        this.onChange?.();
        return formatHostPrefix(family, a.value);
      }
      if (a && a.family === family && pool.isFreeValue(family, a.value, skip)) {
        pool.takeValue(family, a.value);
        this.held.set(connId, a.value);
        this.onChange?.();
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
    this.onChange?.();
    return formatHostPrefix(family, got.value);
  }

  release(connId: string): void {
    const v = this.held.get(connId);
    if (v === undefined || !this.current) return;
    this.pool?.releaseValue(parseCidr(this.current).family, v);
    this.held.delete(connId);
    this.onChange?.();
  }

  private expireReservations(family: 4 | 6): void {
    const t = this.now();
    for (const [v, until] of this.reserved) {
      if (until <= t) {
        this.reserved.delete(v);
        for (const [k, kv] of this.reservedFor) if (kv === v) this.reservedFor.delete(k);
        this.pool?.releaseValue(family, v);
      }
    }
  }

  /**
   * Which connection (our segment id) holds a member's address now. A member that healed has a new
   * path; the Close of its old path, arriving later, must not free the address the new path holds.
   */
  private readonly holders = new Map<string, string>();

  setHolder(key: string, connId: string): void {
    this.holders.set(key, connId);
  }

  /** Frees the member's address if `connId` is the connection holding it (or nobody was recorded). */
  releaseIfHeldBy(key: string, connId: string): void {
    const holder = this.holders.get(key);
    if (holder !== undefined && holder !== connId) return;
    this.holders.delete(key);
    this.release(key);
  }

  has(connId: string): boolean {
    return this.held.has(connId);
  }

  /** Number of connections holding an address. */
  get size(): number {
    return this.held.size;
  }
}
