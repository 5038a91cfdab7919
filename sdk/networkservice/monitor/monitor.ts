// The connections a chain currently holds, and the MonitorConnections subscribers watching them.
// The first event a subscriber gets is INITIAL_STATE_TRANSFER (sent asynchronously, never from
// subscribe itself), then UPDATE and DELETE as connections change.
//
// Stored connections are deep-frozen copies, and every event shares them instead of cloning them per
// subscriber: an nsmgr holding 1000 connections (about 7 KiB each with signed tokens) cloned 7 MB for
// every MonitorConnections stream opened (nsmctl, the UI, each restarted peer). A subscriber cannot
// change what the monitor holds (writes to a frozen object throw in strict mode), and a change is a
// new copy, so an event that waits in a stream's buffer still says what it said when it was sent.
// The copies share their strings with the connection they copy (tools/clone): the tokens are most
// of a connection's size, and a string cannot be changed.
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
  type MonitorScopeSelector,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { cloneShared } from '../../tools/clone/index.js';
import { matchesSelector } from './common.js';
import { markImmutable } from './wire.js';

/** Which connections one subscriber may see at all (its caller's own: sdk/networkservice/connectionowner). */
export type Visible = (conn: Connection) => boolean;

type Subscriber = {
  selector: MonitorScopeSelector;
  send: (ev: ConnectionEvent) => void;
  ready: boolean;
  visible: Visible;
};

const everything: Visible = () => true;

export class ConnectionMonitor {
  private readonly connections = new Map<string, Connection>();
  private readonly subscribers = new Set<Subscriber>();
  /** Connections asked to reselect since they were last stored (see downMany). */
  private readonly reselectAsked = new Set<string>();

  /**
   * Starts a subscription; call the returned function to stop it. `visible` narrows what the
   * subscriber gets, whatever its selector says (default: everything).
   */
  subscribe(
    selector: MonitorScopeSelector,
    send: (ev: ConnectionEvent) => void,
    visible: Visible = everything,
  ): () => void {
    const sub: Subscriber = { selector, send, ready: false, visible };
    this.subscribers.add(sub);
    queueMicrotask(() => {
      if (!this.subscribers.has(sub)) return;
      sub.ready = true;
      send(
        this.event(
          ConnectionEventType.INITIAL_STATE_TRANSFER,
          [...this.connections.values()].filter(visible),
          selector,
          true,
        ),
      );
    });
    return () => this.subscribers.delete(sub);
  }

  update(conn: Connection): void {
    const copy = immutable(deepFreeze(cloneShared(conn)));
    this.connections.set(conn.id, copy);
    this.reselectAsked.delete(conn.id);
    this.publish(ConnectionEventType.UPDATE, [copy]);
  }

  delete(conn: Connection): void {
    const stored = this.connections.get(conn.id) ?? deepFreeze(cloneShared(conn));
    this.connections.delete(conn.id);
    this.reselectAsked.delete(conn.id);
    this.publish(ConnectionEventType.DELETE, [immutable(Object.freeze({ ...stored, state: State.DOWN }))]);
  }

  /**
   * Marks a connection DOWN without forgetting it (its downstream died); subscribers heal on it.
   * Only a change is published (returns true): a relay retrying a dead next hop reports its
   * connections down on every failed reconnect, and each repeat crossed every hop up to the
   * clients (a killed endpoint with 60 connections: ~230 events per hop in its first second).
   * Nor is DOWN published for a connection asked to reselect (until it is stored again): its
   * client is already choosing another path, and the forwarder that asked follows the request with
   * DOWN when its stream to the dead endpoint breaks, an event as big as the request that crossed
   * every hop again (~60 connections of ~7 KiB) while the clients' heals needed those hops.
   */
  down(id: string): boolean {
    return this.downMany([id]).length > 0;
  }

  /**
   * down() for many connections in one event per subscriber (returns the ids it published): a
   * dead next hop takes all its connections down at once, and one event per connection cost each
   * hop a message, a decode and an event-loop turn, ~2 ms per connection on a loaded nsmgr.
   */
  downMany(ids: Iterable<string>): string[] {
    const changed: Connection[] = [];
    for (const id of ids) {
      const stored = this.connections.get(id);
      if (!stored || stored.state === State.DOWN) continue;
      const copy = immutable(Object.freeze({ ...stored, state: State.DOWN }));
      this.connections.set(id, copy);
      if (!this.reselectAsked.has(id)) changed.push(copy);
    }
    this.publish(ConnectionEventType.UPDATE, changed);
    return changed.map((c) => c.id);
  }

  /**
   * Whether a MonitorConnections subscriber that selects `conn` is connected: the previous hop (its
   * relay, or a client's heal) is alive or hung, not gone; a dead process's stream is closed.
   */
  watched(conn: Connection): boolean {
    // Only a subscriber that may see it: another caller's empty selector keeps nothing alive.
    for (const sub of this.subscribers)
      if (sub.visible(conn) && matchesSelector(conn, sub.selector)) return true;
    return false;
  }

  /**
   * Asks the connection's client to select its endpoint again (the connection no longer matches its
   * service, see netsvcmonitor): an UPDATE with state RESELECT_REQUESTED, upstream's state for it.
   * The stored connection keeps its state; the event is a request, not a change.
   */
  reselect(id: string): void {
    this.reselectMany([id]);
  }

  /** reselect() for many connections in one event per subscriber (see downMany). */
  reselectMany(ids: Iterable<string>): void {
    const asks: Connection[] = [];
    for (const id of ids) {
      const stored = this.connections.get(id);
      // A frozen copy like down()'s: encoded once for every stream, not once per subscriber.
      if (!stored) continue;
      asks.push(immutable(Object.freeze({ ...stored, state: State.RESELECT_REQUESTED })));
      this.reselectAsked.add(id);
    }
    this.publish(ConnectionEventType.UPDATE, asks);
  }

  get(id: string): Connection | undefined {
    return this.connections.get(id);
  }

  list(): Connection[] {
    return [...this.connections.values()];
  }

  private publish(type: ConnectionEventType, conns: Connection[]): void {
    if (conns.length === 0) return;
    for (const sub of [...this.subscribers]) {
      if (!sub.ready) continue;
      const mine = conns.filter((c) => sub.visible(c) && matchesSelector(c, sub.selector));
      if (mine.length > 0) sub.send(this.event(type, mine, sub.selector, false));
    }
  }

  private event(
    type: ConnectionEventType,
    conns: Connection[],
    selector: MonitorScopeSelector,
    filter: boolean,
  ): ConnectionEvent {
    const connections: Record<string, Connection> = {};
    for (const c of conns) if (!filter || matchesSelector(c, selector)) connections[c.id] = c;
    return { type, connections };
  }
}

/**
 * Marks a deep-frozen connection (one deepFreeze made, or a frozen shallow copy of one) so that
 * MonitorConnections encodes it once for every stream (wire.ts).
 */
function immutable(c: Connection): Connection {
  markImmutable(c);
  return c;
}

/** Freezes `v` and everything it holds (a Connection is plain data: objects, arrays, Dates). */
function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}
