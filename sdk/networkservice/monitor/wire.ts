// MonitorConnections events put on the wire from each connection's bytes, encoded once.
//
// An INITIAL_STATE_TRANSFER carries every connection a hop holds: at 1000 connections with signed
// tokens that is 7.4 MB, and encoding it took 30-60 ms of the nsmgr's event loop for every stream
// opened (each `nsmctl get`, the UI, every restarted peer), though the connections had not changed.
// The monitor stores deep-frozen copies (monitor.ts) and marks them here: a frozen connection's
// bytes never change, so they are kept beside it (a WeakMap: they go when the copy goes) and an event
// is its header plus those bytes. The bytes are exactly what ConnectionEvent.encode writes (same
// fields, same order), so upstream clients see no difference; wire.test.ts checks it.
// Only an INITIAL_STATE_TRANSFER keeps what it encoded: an UPDATE or DELETE is encoded once per
// subscriber that selects it (usually one: the previous hop), and keeping its bytes only for a
// stream that might open later held 4-7 KiB per connection for as long as the connection was
// unchanged (4 MB in a forwarder holding 1000, which the nsmgr's relay watches; issue 15 item 4).
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  Connection,
  type ConnectionEvent,
  ConnectionEventType,
} from '../../../api/gen/networkservice/connection.js';

/** Connections the monitor vouches are deep-frozen (only those may keep their bytes). */
const immutable = new WeakSet<Connection>();
const encoded = new WeakMap<Connection, Uint8Array>();

/** Declares `c` deep-frozen: its encoding may be kept for as long as `c` lives. */
export function markImmutable(c: Connection): void {
  immutable.add(c);
}

function connectionBytes(c: Connection, keep: boolean): Uint8Array {
  const kept = encoded.get(c);
  if (kept) return kept;
  const b = Connection.encode(c).finish();
  if (keep && immutable.has(c)) encoded.set(c, b);
  return b;
}

/**
 * ConnectionEvent.encode's bytes; each marked connection an initial transfer carries is encoded
 * once for all later events.
 */
export function encodeConnectionEvent(ev: ConnectionEvent): Buffer {
  const keep = ev.type === ConnectionEventType.INITIAL_STATE_TRANSFER;
  const parts: Uint8Array[] = [];
  // Field 1 (type, varint), left out at its default as ts-proto does.
  if (ev.type !== 0) parts.push(new BinaryWriter().uint32(8).int32(ev.type).finish());
  // Field 2 (connections): one map entry message per connection, {1: key, 2: value}.
  for (const [key, value] of Object.entries(ev.connections)) {
    const head = new BinaryWriter();
    if (key !== '') head.uint32(10).string(key);
    if (value === undefined) {
      const entry = head.finish();
      parts.push(new BinaryWriter().uint32(18).uint32(entry.length).finish(), entry);
      continue;
    }
    const body = connectionBytes(value, keep);
    head.uint32(18).uint32(body.length);
    const entryHead = head.finish();
    parts.push(
      new BinaryWriter()
        .uint32(18)
        .uint32(entryHead.length + body.length)
        .finish(),
      entryHead,
      body,
    );
  }
  return Buffer.concat(parts);
}
