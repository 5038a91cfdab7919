import assert from 'node:assert/strict';
import { BinaryWriter } from '@bufbuild/protobuf/wire';
import {
  Connection,
  ConnectionEvent,
  ConnectionEventType,
  State,
} from '../api/gen/networkservice/connection.js';
import { ConnectionContext } from '../api/gen/networkservice/connectioncontext.js';
import { decodeSummaryEvent, UNREAD_SEGMENT } from './connection-summary.js';

/** A connection with every field set, so that a skipped field shows as a difference. */
function rich(i: number): Connection {
  return Connection.fromPartial({
    id: `conn-${i}`,
    networkService: 'icmp',
    networkServiceEndpointName: 'nse-1',
    payload: 'IP',
    state: i % 2 ? State.DOWN : State.UP,
    labels: { app: 'web', i: String(i) },
    mechanism: { cls: 'REMOTE', type: 'VXLAN', parameters: { vni: '42', dst_ip: '10.0.0.2' } },
    context: {
      ipContext: {
        srcIpAddrs: [`172.16.0.${i}/32`, 'fd00::1/128'],
        dstIpAddrs: ['172.16.0.254/32'],
        srcRoutes: [{ prefix: '172.16.0.254/32', nextHop: '' }],
        excludedPrefixes: ['10.0.0.0/8'],
        ipNeighbors: [{ ip: '172.16.0.254', hardwareAddress: 'aa:bb:cc:dd:ee:ff' }],
      },
      dnsContext: { configs: [{ dnsServerIps: ['10.0.0.10'], searchDomains: ['svc'] }] },
      ethernetContext: { srcMac: 'aa:aa:aa:aa:aa:aa', dstMac: 'bb:bb:bb:bb:bb:bb', vlanTag: 7 },
      extraContext: { k: 'v' },
      MTU: 1446,
    },
    path: {
      index: 1,
      pathSegments: ['nsc', 'nsmgr', 'fwd', 'nse'].map((name, h) => ({
        name,
        id: `${name}-${i}`,
        token: `header.${'x'.repeat(1100)}.sig`,
        expires: new Date(Date.UTC(2026, 10, 30, 12, 0, h, 123)),
        metrics: h === 2 ? { server_rx_bytes: '100', client_tx_packets: '3' } : {},
      })),
    },
  });
}

/** What the summary keeps of a fully decoded connection: the rest at its defaults. */
function cut(c: Connection): Connection {
  return {
    ...c,
    labels: {},
    mechanism: c.mechanism && { ...c.mechanism, parameters: {} },
    context:
      c.context &&
      ConnectionContext.fromPartial({
        ipContext: {
          srcIpAddrs: c.context?.ipContext?.srcIpAddrs,
          dstIpAddrs: c.context?.ipContext?.dstIpAddrs,
        },
      }),
    path: c.path && {
      index: c.path.index,
      pathSegments: c.path.pathSegments.map((s) => ({ ...s, token: '', metrics: {} })),
    },
  };
}

describe('connection summary decoder', () => {
  it('decodes what the tables print exactly as the full decoder does, and skips the rest', () => {
    // Strings past BinaryReader's 32-byte ASCII path (ids are 36), and not ASCII at all.
    const long = Connection.fromPartial({
      id: `${'7'.repeat(8)}-nsmgr-node1-0000-0000-000000000000`,
      networkService: 'ünïcödé-сервис-服务',
      path: { pathSegments: [{ name: 'nsc-ü', id: 'x'.repeat(300) }] },
    });
    const conns = [rich(1), rich(2), Connection.fromPartial({ id: 'bare' }), long];
    const ev = {
      type: ConnectionEventType.UPDATE,
      connections: Object.fromEntries(conns.map((c) => [c.id, c])),
    };
    const wire = ConnectionEvent.encode(ev).finish();
    const full = ConnectionEvent.decode(wire);
    const summary = decodeSummaryEvent(wire, { allHops: true });
    assert.equal(summary.type, ConnectionEventType.UPDATE);
    assert.deepEqual(Object.keys(summary.connections).sort(), [long.id, 'bare', 'conn-1', 'conn-2']);
    for (const id of Object.keys(full.connections)) {
      assert.deepEqual(summary.connections[id], cut(full.connections[id]), id);
    }
    assert.equal(summary.connections['conn-1'].path?.pathSegments[2].expires?.getUTCMilliseconds(), 123);
  });

  it('skips fields it does not know, of every wire type', () => {
    const conn = Connection.encode(
      Connection.fromPartial({ id: 'c', networkService: 'icmp', state: State.DOWN }),
    );
    // fields 20 (varint), 21 (fixed64), 22 (bytes), 23 (fixed32), as a newer peer might send
    conn.uint32((20 << 3) | 0).uint64(1n << 40n);
    conn.uint32((21 << 3) | 1).fixed64(7n);
    conn.uint32((22 << 3) | 2).bytes(new Uint8Array([1, 2, 3]));
    conn.uint32((23 << 3) | 5).fixed32(9);
    const entry = new BinaryWriter().uint32(10).string('c').uint32(18).bytes(conn.finish());
    const wire = new BinaryWriter().uint32(8).int32(ConnectionEventType.INITIAL_STATE_TRANSFER);
    wire.uint32(18).bytes(entry.finish());
    const ev = decodeSummaryEvent(wire.finish());
    assert.equal(ev.connections.c.networkService, 'icmp');
    assert.equal(ev.connections.c.state, State.DOWN);
  });

  it('refuses a message cut short instead of reading past its end', () => {
    const ev = { type: ConnectionEventType.UPDATE, connections: { 'conn-1': rich(1) } };
    const wire = ConnectionEvent.encode(ev).finish();
    // Cut inside a token (skipped) and inside the last string (read).
    for (const cut of [600, wire.length - 3]) {
      assert.throws(
        () => decodeSummaryEvent(wire.subarray(0, cut)),
        /premature EOF|out of range/,
        `cut at ${cut}`,
      );
    }
  });

  it("without allHops reads the client's hop and the nsmgr's own, and counts the rest", () => {
    const c = rich(3); // four hops, index 1
    const wire = ConnectionEvent.encode({ type: 1, connections: { [c.id]: c } }).finish();
    const path = decodeSummaryEvent(wire).connections[c.id].path;
    assert.equal(path?.index, 1);
    assert.equal(path?.pathSegments.length, 4);
    assert.deepEqual(path?.pathSegments[0], cut(c).path?.pathSegments[0]);
    assert.deepEqual(path?.pathSegments[1], cut(c).path?.pathSegments[1]);
    assert.equal(path?.pathSegments[2], UNREAD_SEGMENT);
    assert.equal(path?.pathSegments[3], UNREAD_SEGMENT);
  });

  it("finds the nsmgr's hop when the index comes after the segments on the wire", () => {
    const seg = (name: string) =>
      new BinaryWriter().uint32(10).string(name).uint32(18).string(`${name}-id`).finish();
    const path = new BinaryWriter();
    for (const name of ['nsc', 'nsmgr', 'fwd']) path.uint32(18).bytes(seg(name));
    path.uint32(8).uint32(1); // index after the segments (proto allows any field order)
    const conn = new BinaryWriter().uint32(10).string('c').uint32(50).bytes(path.finish());
    const entry = new BinaryWriter().uint32(10).string('c').uint32(18).bytes(conn.finish());
    const ev = decodeSummaryEvent(new BinaryWriter().uint32(18).bytes(entry.finish()).finish());
    const names = ev.connections.c.path?.pathSegments.map((s) => s.name);
    assert.deepEqual(names, ['nsc', 'nsmgr', '']);
  });
});
