import assert from 'node:assert/strict';
import {
  configureCommands,
  deleteLinkCommands,
  setupCommands,
  vethCreateCommand,
  vxlanCreateCommand,
} from '../commands.js';
import { policyCommands } from '../policy.js';
import { readLine, readLines } from './lines.js';

const podA = { path: '/var/run/netns/pod-a' };
const podB = { path: '/proc/4242/ns/net' };

describe('netlink: reading our batch lines', () => {
  it('reads a veth create with both ends in their namespaces, sized and addressed', () => {
    const line = vethCreateCommand(
      { netns: podA, name: 'nsm-1', alias: 'x', mtu: 1446, mac: '02:00:00:00:00:01' },
      { netns: podB, name: 'nse-1', alias: 'y', mtu: 1446 },
    );
    assert.deepEqual(readLine(line), {
      kind: 'veth',
      a: { name: 'nsm-1', netns: podA.path, mtu: 1446, mac: '02:00:00:00:00:01' },
      b: { name: 'nse-1', netns: podB.path, mtu: 1446, mac: undefined },
    });
    const here = vethCreateCommand(
      { netns: null, name: 'a', alias: 'x' },
      { netns: podB, name: 'b', alias: 'y' },
    );
    assert.deepEqual(readLine(here), {
      kind: 'veth',
      a: { name: 'a', netns: null, mtu: undefined, mac: undefined },
      b: { name: 'b', netns: podB.path, mtu: undefined, mac: undefined },
    });
  });

  it('reads every line of an end set-up with addresses, routes and neighbours', () => {
    const lines = setupCommands({
      netns: podA,
      name: 'nsm-1',
      alias: 'nsm:fwd:c1:client',
      config: {
        mtu: 1400,
        addresses: ['172.16.1.101/32', 'fd00::65/128'],
        routes: [
          { prefix: '172.16.1.100/32' },
          { prefix: '10.0.0.0/8', via: '172.16.1.100' },
          { prefix: 'fd00::/64', via: 'fd00::64' },
          { prefix: '192.168.0.0/16', via: 'fd00::64' },
        ],
        neighbors: [{ ip: '172.16.1.100', mac: '02:00:00:00:00:02' }],
      },
    });
    const ops = readLines(lines);
    assert.ok(ops, `every line read: ${lines.join(' | ')}`);
    const [set, a4, a6, direct, via4, via6, v4via6, neigh] = ops;
    assert.deepEqual(set, { kind: 'set', dev: 'nsm-1', alias: 'nsm:fwd:c1:client', mtu: 1400, up: true });
    assert.equal(
      a4.kind === 'addr' && `${a4.address.ip}/${a4.address.prefixLength} ${a4.nodad}`,
      '172.16.1.101/32 false',
    );
    assert.equal(a6.kind === 'addr' && `${a6.address.ip} ${a6.nodad}`, 'fd00::65 true');
    assert.equal(
      direct.kind === 'route' && `${direct.prefix.ip} ${direct.via} ${direct.onlink}`,
      '172.16.1.100 undefined false',
    );
    assert.equal(
      via4.kind === 'route' && `${via4.prefix.ip}/${via4.prefix.prefixLength} ${via4.via?.ip} ${via4.onlink}`,
      '10.0.0.0/8 172.16.1.100 true',
    );
    assert.equal(via6.kind === 'route' && `${via6.prefix.ip} ${via6.via?.ip}`, 'fd00:: fd00::64');
    assert.equal(v4via6.kind === 'route' && `${v4via6.prefix.family} ${v4via6.via?.family}`, '4 6');
    assert.equal(neigh.kind === 'neigh' && `${neigh.ip.ip} ${neigh.mac}`, '172.16.1.100 02:00:00:00:00:02');
    assert.equal(ops.length, lines.length);
  });

  it('reads a VXLAN create: born in its namespace, its socket on the underlay device', () => {
    const line = vxlanCreateCommand(
      { netns: podA, name: 'nsm-1', alias: 'x', mtu: 1450 },
      { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789, underlayDev: 'eth0' },
    );
    const op = readLine(line);
    assert.ok(op?.kind === 'vxlan', line);
    assert.deepEqual(
      [op.link, op.vni, op.local.ip, op.remote.ip, op.port, op.dev],
      [
        { name: 'nsm-1', netns: podA.path, mtu: 1450, mac: undefined },
        7,
        '10.0.0.1',
        '10.0.0.2',
        4789,
        'eth0',
      ],
    );
    assert.equal(readLine(`${line.replace('10.0.0.2', 'fd00::2')}`), undefined, 'mixed families');
  });

  it("reads a policy's routes (its table) but not its rule", () => {
    const [route, rule] = policyCommands('nsm-1', {
      tableBase: 70000,
      policies: [{ routes: [{ prefix: '10.1.0.0/16', via: '172.16.1.100' }] }],
    });
    const op = readLine(route);
    assert.equal(op?.kind === 'route' && op.table, 70000);
    assert.equal(readLine(rule), undefined, rule);
  });

  it('reads configure and delete lines', () => {
    assert.deepEqual(readLines(configureCommands('eth1', { addresses: [], routes: [], neighbors: [] })), [
      { kind: 'set', dev: 'eth1', alias: undefined, mtu: undefined, up: true },
    ]);
    assert.deepEqual(readLines(deleteLinkCommands('nsm-1')), [{ kind: 'del', dev: 'nsm-1' }]);
    assert.deepEqual(readLine('link show dev nsm-1'), { kind: 'show', dev: 'nsm-1' });
  });

  it('leaves every other line to iproute2, and a batch with one such line', () => {
    const rules = policyCommands('nsm-1', {
      tableBase: 70000,
      policies: [{ from: '10.0.0.0/8', routes: [] }],
    });
    for (const line of [
      ...rules,
      'link add br0 type bridge',
      'link del br0',
      'link show',
      'addr show dev nsm-1',
      'route replace 10.0.0.0/8 dev nsm-1', // no scope: not a shape we emit
      'route replace 10.0.0.0/8 via 10.0.0.1 dev nsm-1 scope link onlink',
      'neigh replace 10.0.0.1 lladdr 02:00:00:00:00:02 dev nsm-1 nud reachable',
      'link set dev nsm-1 alias a alias b up',
      'link set dev nsm-1 netns /proc/1/ns/net',
      'addr replace 10.0.0.1 dev nsm-1', // no prefix length
      'link set dev a-name-far-too-long up',
      'route replace 10.0.0.0/8 dev nsm-1 table 0 scope link',
    ]) {
      assert.equal(readLine(line), undefined, line);
    }
    assert.equal(readLines(['link set dev nsm-1 up', rules[0]]), undefined);
  });
});
