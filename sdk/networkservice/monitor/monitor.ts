// The connections a chain currently holds, and the MonitorConnections subscribers watching them.
// The first event a subscriber gets is INITIAL_STATE_TRANSFER (sent asynchronously, never from
// subscribe itself), then UPDATE and DELETE as connections change.
import {
  type Connection,
  type ConnectionEvent,
  ConnectionEventType,
  type MonitorScopeSelector,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { matchesSelector } from './common.js';

type Subscriber = { selector: MonitorScopeSelector; send: (ev: ConnectionEvent) => void; ready: boolean };

export class ConnectionMonitor {
  private readonly connections = new Map<string, Connection>();
  private readonly subscribers = new Set<Subscriber>();

  /** Starts a subscription; call the returned function to stop it. */
  subscribe(selector: MonitorScopeSelector, send: (ev: ConnectionEvent) => void): () => void {
    const sub: Subscriber = { selector, send, ready: false };
    this.subscribers.add(sub);
    queueMicrotask(() => {
      if (!this.subscribers.has(sub)) return;
      sub.ready = true;
      send(
        this.event(
          ConnectionEventType.INITIAL_STATE_TRANSFER,
          [...this.connections.values()],
          selector,
          true,
        ),
      );
    });
    return () => this.subscribers.delete(sub);
  }

  update(conn: Connection): void {
    const copy = structuredClone(conn);
    this.connections.set(conn.id, copy);
    this.publish(ConnectionEventType.UPDATE, copy);
  }

  delete(conn: Connection): void {
    const stored = this.connections.get(conn.id) ?? conn;
    this.connections.delete(conn.id);
    this.publish(ConnectionEventType.DELETE, { ...structuredClone(stored), state: State.DOWN });
  }

  /** Marks a connection DOWN without forgetting it (its downstream died); subscribers heal on it. */
  down(id: string): void {
    const stored = this.connections.get(id);
    if (!stored) return;
    stored.state = State.DOWN;
    this.publish(ConnectionEventType.UPDATE, stored);
  }

  /**
   * Whether a MonitorConnections subscriber that selects `conn` is connected: the previous hop (its
   * relay, or a client's heal) is alive or hung, not gone; a dead process's stream is closed.
   */
  watched(conn: Connection): boolean {
    for (const sub of this.subscribers) if (matchesSelector(conn, sub.selector)) return true;
    return false;
  }

  /**
   * Asks the connection's client to select its endpoint again (the connection no longer matches its
   * service, see netsvcmonitor): an UPDATE with state RESELECT_REQUESTED, upstream's state for it.
   * The stored connection keeps its state; the event is a request, not a change.
   */
  reselect(id: string): void {
    const stored = this.connections.get(id);
    if (!stored) return;
    this.publish(ConnectionEventType.UPDATE, { ...structuredClone(stored), state: State.RESELECT_REQUESTED });
  }

  get(id: string): Connection | undefined {
    return this.connections.get(id);
  }

  list(): Connection[] {
    return [...this.connections.values()];
  }

  private publish(type: ConnectionEventType, conn: Connection): void {
    for (const sub of [...this.subscribers]) {
      if (!sub.ready || !matchesSelector(conn, sub.selector)) continue;
      sub.send(this.event(type, [conn], sub.selector, false));
    }
  }

  private event(
    type: ConnectionEventType,
    conns: Connection[],
    selector: MonitorScopeSelector,
    filter: boolean,
  ): ConnectionEvent {
    const connections: Record<string, Connection> = {};
    for (const c of conns)
      if (!filter || matchesSelector(c, selector)) connections[c.id] = structuredClone(c);
    return { type, connections };
  }
}
