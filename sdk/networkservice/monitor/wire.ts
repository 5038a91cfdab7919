// MonitorConnections events put on the wire from each connection's bytes, encoded once.
//
// An INITIAL_STATE_TRANSFER carries every connection a hop holds: at 1000 connections with signed
// tokens that is 7.4 MB, and encoding it took 30-60 ms of the nsmgr's event loop for every stream
// opened (each `nsmctl get`, the UI, every restarted peer), though the connections had not changed.
// The monitor stores deep-frozen copies (monitor.ts) and marks them here: a frozen connection's
// bytes never change, so they are kept beside it (a WeakMap: they go when the copy goes) and an event
// is its header plus those bytes. The bytes are exactly what ConnectionEvent.encode writes (same
// fields, same order), so upstream clients see no difference; wire.test.ts checks it.
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import { Connection, type ConnectionEvent } from '../../../api/gen/networkservice/connection.js';

/** Connections the monitor vouches are deep-frozen (only those may keep their bytes). */
const immutable = new WeakSet<Connection>();
const encoded = new WeakMap<Connection, Uint8Array>();

/** Declares `c` deep-frozen: its encoding may be kept for as long as `c` lives. */
export function markImmutable(c: Connection): void {
  immutable.add(c);
}

function connectionBytes(c: Connection): Uint8Array {
  const kept = encoded.get(c);
  if (kept) return kept;
  const b = Connection.encode(c).finish();
  if (immutable.has(c)) encoded.set(c, b);
  return b;
}

/** ConnectionEvent.encode's bytes, with each marked connection encoded once for all events. */
export function encodeConnectionEvent(ev: ConnectionEvent): Buffer {
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
    const body = connectionBytes(value);
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
