import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { State } from '../api/gen/networkservice/connection.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { newRecordingIpRunner } from '../sdk/kernel/index.js';
import { connection, nse } from '../sdk/testing/connections.js';
import { describe as describeConnection, lookup, render } from './describe.js';
import { inspect } from './inspect.js';
import { type FakeNsmgr, fakeNsmgr } from './testing.js';

const NAMES = ['nsc', 'nsmgr-a', 'fwd-a', 'nse-1'];
const segments = NAMES.map((name) => ({ name, id: `${name}-id`, expires: new Date(Date.now() + 90_000) }));

/** The connection as hop `index` holds it, with the mechanism on its incoming side. */
function heldAt(index: number, mechanism: { type: string; parameters: Record<string, string> }) {
  return connection({
    id: segments[index].id,
    networkService: 'icmp',
    networkServiceEndpointName: 'nse-1',
    mechanism: { cls: 'LOCAL', ...mechanism },
    context: { ipContext: { srcIpAddrs: ['172.16.0.1/32'], dstIpAddrs: ['172.16.0.0/32'] } },
    state: State.UP,
    path: { index, pathSegments: segments },
  });
}

const LINK = [
  {
    ifname: 'nsm-1',
    flags: ['BROADCAST', 'UP'],
    mtu: 1450,
    operstate: 'DOWN',
    address: 'aa:bb:cc:dd:ee:ff',
    linkinfo: {
      info_kind: 'vxlan',
      info_data: { id: 42, remote: '10.0.0.2', local: '10.0.0.1', port: 4789 },
    },
    stats64: { rx: { packets: 5, bytes: 500, dropped: 1 }, tx: { packets: 7, bytes: 700, errors: 2 } },
  },
];

describe('nsmctl describe', () => {
  let dir: string;
  let nsmgr: FakeNsmgr;
  let fwd: FakeNsmgr;
  let pool: ClientPool;
  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsmctl-describe-'));
    pool = new ClientPool();
    fwd = await fakeNsmgr(join(dir, 'fwd.sock'), {
      connections: [heldAt(2, { type: 'KERNEL', parameters: { name: 'nsm-1', inodeURL: 'inode://4/1' } })],
    });
    nsmgr = await fakeNsmgr(join(dir, 'nsm.sock'), {
      connections: [heldAt(1, { type: 'KERNEL', parameters: { name: 'nsm-1', inodeURL: 'inode://4/1' } })],
      // The forwarder is local to this nsmgr: its proxy lists it under its own unix URL.
      endpoints: [nse('fwd-a', { networkServiceNames: ['forwarder'], url: fwd.url })],
    });
  });
  afterEach(async () => {
    await pool.close();
    await nsmgr.close();
    await fwd.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('shows each hop as its daemon holds it, the mechanisms, and the kernel state of the client end', async () => {
    const runner = newRecordingIpRunner();
    runner.setJson('-d -s link show dev nsm-1', LINK, '/var/run/netns/pod');
    runner.setJson(
      'addr show dev nsm-1',
      [{ addr_info: [{ local: '172.16.0.1', prefixlen: 32 }] }],
      '/var/run/netns/pod',
    );
    runner.setJson('route show dev nsm-1', [{ dst: '172.16.0.0', scope: 'link' }], '/var/run/netns/pod');
    runner.setJson(
      'neigh show dev nsm-1',
      [{ dst: '172.16.0.0', lladdr: '11:22:33:44:55:66', state: ['STALE'] }],
      '/var/run/netns/pod',
    );
    const resolver = {
      resolve: async (u: string) => {
        if (u !== 'inode://4/1') throw new Error(`no namespace ${u}`);
        return { path: '/var/run/netns/pod', inode: u };
      },
      list: async () => [],
    };
    const targets = { nsmgrs: [nsmgr.url], registry: nsmgr.url, source: 'test' };
    const snap = await inspect({ targets, pool, forwarderService: 'forwarder' });
    const d = await describeConnection(snap, lookup(snap, 'nsc-id'), { runner, resolver });
    assert.deepEqual(
      d.hops.map((h) => [h.name, h.state, h.url]),
      [
        ['nsc', 'client', undefined],
        ['nsmgr-a', 'UP', nsmgr.url],
        ['fwd-a', 'UP', fwd.url],
        ['nse-1', 'not reached', undefined],
      ],
    );
    assert.equal(d.clientEnd.netnsName, 'pod');
    assert.deepEqual(d.clientEnd.vxlan, { vni: 42, remote: '10.0.0.2', local: '10.0.0.1', port: 4789 });
    assert.equal(
      d.endpointEnd.error,
      'the missing mechanism names no interface and namespace (name, inodeURL)',
    );
    const text = render(d);
    assert.match(text, /^ {2}2 {3}fwd-a\s+UP\s+in \d+s\s+unix:\/\/\S+fwd\.sock\s+fwd-a-id$/m);
    assert.match(text, /nsmgr-a -> fwd-a: KERNEL name=nsm-1 inodeURL=inode:\/\/4\/1/);
    assert.match(text, /Link: {8}vxlan, mtu 1450, up, oper DOWN, no carrier, mac aa:bb:cc:dd:ee:ff/);
    assert.match(text, /VXLAN: {7}vni 42, remote 10\.0\.0\.2, local 10\.0\.0\.1, port 4789/);
    assert.match(
      text,
      /Routes: {6}172\.16\.0\.0 scope link\n {2}Neighbours: {2}172\.16\.0\.0 lladdr 11:22:33:44:55:66 STALE/,
    );
    assert.match(text, /rx 5 pkts 500 B \(1 dropped, 0 errors\), tx 7 pkts 700 B \(0 dropped, 2 errors\)/);
  });

  it('finds a connection by any hop id, and names where it looked when there is none', async () => {
    const targets = { nsmgrs: [nsmgr.url], registry: nsmgr.url, source: 'test' };
    const snap = await inspect({ targets, pool, forwarderService: 'forwarder' });
    assert.equal(lookup(snap, 'fwd-a-id').id, 'nsc-id');
    assert.throws(
      () => lookup(snap, 'other'),
      /connection "other" not found at unix:\/\/.*nsm\.sock \(they hold nsc-id\)/,
    );
  });
});
