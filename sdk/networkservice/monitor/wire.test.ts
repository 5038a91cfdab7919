import assert from 'node:assert/strict';
import {
  type Connection,
  ConnectionEvent,
  ConnectionEventType,
  MonitorScopeSelector,
  State,
} from '../../../api/gen/networkservice/connection.js';
import { connection } from '../../testing/connections.js';
import { tick } from '../../testing/eventually.js';
import { ConnectionMonitor } from './monitor.js';
import { encodeConnectionEvent, markImmutable } from './wire.js';

/** A connection with every kind of field set (maps, repeated, nested, timestamps, enums). */
function full(i: number): Connection {
  const expires = new Date(1_800_000_000_123 + i);
  return connection({
    id: `conn-${i}`,
    networkService: 'svc',
    networkServiceEndpointName: 'nse-1',
    payload: 'IP',
    state: State.UP,
    labels: { app: `a${i}`, ünïcode: 'ja' },
    mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1', inodeURL: 'inode://4/4026' } },
    context: {
      ipContext: { srcIpAddrs: [`10.0.0.${i}/32`], dstRoutes: [{ prefix: '10.0.0.0/24' }] },
      MTU: 1446,
    },
    path: {
      index: 1,
      pathSegments: [
        { name: 'nsc', id: `nsc-${i}`, token: 'x'.repeat(300 + i), expires, metrics: { rx_bytes: '12' } },
        { name: 'nsmgr', id: `${i}-nsmgr`, token: 'y'.repeat(200), expires },
      ],
    },
  });
}

const reference = (ev: ConnectionEvent) => Buffer.from(ConnectionEvent.encode(ev).finish());

describe('monitor wire encoding', () => {
  it('writes exactly what ConnectionEvent.encode writes', () => {
    const marked = full(1);
    markImmutable(marked);
    const events: ConnectionEvent[] = [
      { type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: {} },
      {
        type: ConnectionEventType.INITIAL_STATE_TRANSFER,
        connections: { a: marked, b: full(2), c: full(300) },
      },
      { type: ConnectionEventType.UPDATE, connections: { 'conn-1': marked } },
      { type: 0, connections: { '': connection({ id: '' }) } },
      { type: ConnectionEventType.DELETE, connections: { big: full(1000) } },
    ];
    for (const ev of events) {
      assert.deepEqual(encodeConnectionEvent(ev), reference(ev));
      // Twice: the second time from the kept bytes.
      assert.deepEqual(encodeConnectionEvent(ev), reference(ev));
      assert.deepEqual(ConnectionEvent.decode(encodeConnectionEvent(ev)), ev);
    }
  });

  it('keeps the bytes of marked connections only, and only from an initial transfer', () => {
    const marked = full(7);
    const unmarked = full(8);
    const updated = full(9);
    markImmutable(marked);
    markImmutable(updated);
    const update = { type: ConnectionEventType.UPDATE, connections: { x: updated } };
    encodeConnectionEvent(update);
    updated.networkService = 'changed';
    assert.equal(
      ConnectionEvent.decode(encodeConnectionEvent(update)).connections.x.networkService,
      'changed',
      'an UPDATE keeps nothing',
    );
    const ev = { type: ConnectionEventType.INITIAL_STATE_TRANSFER, connections: { m: marked, u: unmarked } };
    const before = encodeConnectionEvent(ev);
    // Marked connections are frozen in real use; changing one here shows its bytes were kept.
    marked.networkService = 'changed';
    unmarked.networkService = 'changed';
    const after = ConnectionEvent.decode(encodeConnectionEvent(ev));
    assert.equal(after.connections.m.networkService, 'svc', 'the marked connection was not encoded again');
    assert.equal(after.connections.u.networkService, 'changed', 'the unmarked one was');
    assert.notDeepEqual(encodeConnectionEvent(ev), before);
  });

  it("encodes the monitor's events as ConnectionEvent.encode does, after updates and downs", async () => {
    const m = new ConnectionMonitor();
    m.update(full(1));
    m.update(full(2));
    const events: ConnectionEvent[] = [];
    const stop = m.subscribe(MonitorScopeSelector.fromPartial({}), (e) => events.push(e));
    await tick();
    m.down('conn-1');
    m.update({ ...full(2), state: State.REFRESH_REQUESTED });
    m.delete(full(2));
    stop();
    assert.equal(events.length, 4);
    for (const ev of events) assert.deepEqual(encodeConnectionEvent(ev), reference(ev));
    const down = ConnectionEvent.decode(encodeConnectionEvent(events[1]));
    assert.equal(
      down.connections['conn-1'].state,
      State.DOWN,
      'a down copy is not the UP one it was made from',
    );
  });
});
