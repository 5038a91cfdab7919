// The owner of every connection one hop holds. It must be known *before* begin (see server.ts), where
// there is no per-connection metadata yet, so it is a Map of its own, keyed by our connection id
// and, for a Close that carries only the caller's segment, by that segment (as begin finds it).
//
// Entries go when their connection is closed through the guard. Closes that begin sends itself
// (expiry, heal) never pass the guard, so entries whose connection the monitor no longer holds
// are swept: each time the map has doubled since the last sweep (amortised O(1) per Request), an
// entry missing from the monitor is marked, and dropped if it is still missing at the next sweep
// (a reselect closes and re-requests under the same id: one sweep's absence is not enough).
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { callerSegmentKey, type OwnerKey } from './common.js';

/** Below this many entries nothing is swept. */
const MIN_SWEEP_SIZE = 64;

interface Entry {
  owner: OwnerKey;
  callerKey?: string;
  missing: boolean;
}

export class ConnectionOwners {
  private readonly byId = new Map<string, Entry>();
  private readonly byCaller = new Map<string, string>();
  private sweepAt = MIN_SWEEP_SIZE;

  /** `held(id)`: whether the hop still holds the connection (its ConnectionMonitor does). */
  constructor(private readonly held: (id: string) => boolean) {}

  /** Our id of the connection a call is about: its own, else the one its caller's segment names. */
  resolve(conn: Connection): string | undefined {
    if (this.byId.has(conn.id)) return conn.id;
    const key = callerSegmentKey(conn);
    return key === undefined ? undefined : this.byCaller.get(key);
  }

  ownerOf(id: string): OwnerKey | undefined {
    return this.byId.get(id)?.owner;
  }

  /** Records the owner of a connection a Request just set up or refreshed (our server-side view). */
  record(conn: Connection, owner: OwnerKey): void {
    const old = this.byId.get(conn.id);
    if (old?.callerKey !== undefined && this.byCaller.get(old.callerKey) === conn.id) {
      this.byCaller.delete(old.callerKey);
    }
    const callerKey = callerSegmentKey(conn);
    this.byId.set(conn.id, { owner, callerKey, missing: false });
    if (callerKey !== undefined) this.byCaller.set(callerKey, conn.id);
    if (this.byId.size >= this.sweepAt) this.sweep();
  }

  forget(id: string): void {
    const e = this.byId.get(id);
    if (!e) return;
    this.byId.delete(id);
    if (e.callerKey !== undefined && this.byCaller.get(e.callerKey) === id) this.byCaller.delete(e.callerKey);
  }

  get size(): number {
    return this.byId.size;
  }

  private sweep(): void {
    for (const [id, e] of [...this.byId]) {
      if (this.held(id)) e.missing = false;
      else if (e.missing) this.forget(id);
      else e.missing = true;
    }
    this.sweepAt = Math.max(MIN_SWEEP_SIZE, this.byId.size * 2);
  }
}
