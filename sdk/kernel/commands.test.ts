import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import {
  configureCommands,
  deleteLinkCommands,
  type LinkEnd,
  vethPairCommands,
  vxlanCommands,
} from './commands.js';

const podA = { path: '/var/run/netns/pod-a' };
const podB = { path: '/proc/4242/ns/net' };

function invalid(fn: () => unknown, pattern: RegExp): void {
  assert.throws(
    fn,
    (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && pattern.test(e.message),
  );
}

describe('kernel command builders', () => {
  describe('vethPairCommands', () => {
    it('creates under temporary names, then moves, renames, marks and raises each end', () => {
      const a: LinkEnd = {
        netns: podA,
        name: 'nsm-1',
        alias: 'nsm:fwd:c1:client',
        mtu: 1446,
        mac: '02:00:00:00:00:01',
      };
      const b: LinkEnd = { netns: podB, name: 'nse-1', alias: 'nsm:fwd:c1:endpoint', mtu: 1446 };
      assert.deepEqual(vethPairCommands(a, b, { a: 'nsmtaaaa', b: 'nsmtbbbb' }), [
        'link add name nsmtaaaa mtu 1446 address 02:00:00:00:00:01 type veth peer name nsmtbbbb mtu 1446',
        'link set dev nsmtaaaa netns /var/run/netns/pod-a name nsm-1 alias nsm:fwd:c1:client up',
        'link set dev nsmtbbbb netns /proc/4242/ns/net name nse-1 alias nsm:fwd:c1:endpoint up',
      ]);
    });

    it('renames in place an end that stays in the creating namespace', () => {
      const cmds = vethPairCommands(
        { netns: null, name: 'host-end', alias: 'x' },
        { netns: podA, name: 'pod-end', alias: 'y' },
        { a: 'nsmt1', b: 'nsmt2' },
      );
      assert.deepEqual(cmds, [
        'link add name nsmt1 type veth peer name nsmt2',
        'link set dev nsmt1 name host-end alias x up',
        'link set dev nsmt2 netns /var/run/netns/pod-a name pod-end alias y up',
      ]);
    });

    it('rejects bad names, aliases and paths naming the field, before emitting anything', () => {
      const ok: LinkEnd = { netns: podA, name: 'ok', alias: 'ok' };
      const tmp = { a: 'nsmt1', b: 'nsmt2' };
      invalid(() => vethPairCommands({ ...ok, name: 'x\nlink del dev eth0' }, ok, tmp), /invalid a\.name/);
      invalid(() => vethPairCommands(ok, { ...ok, name: 'way-too-long-name' }, tmp), /invalid b\.name/);
      invalid(() => vethPairCommands(ok, { ...ok, name: 'b', alias: 'two words' }, tmp), /invalid b\.alias/);
      invalid(() => vethPairCommands({ ...ok, netns: { path: '/x y' } }, ok, tmp), /invalid a\.netns/);
      invalid(() => vethPairCommands({ ...ok, mtu: 10 }, { ...ok, name: 'b' }, tmp), /invalid a\.mtu/);
      invalid(() => vethPairCommands(ok, ok, tmp), /same namespace/);
    });
  });

  describe('vxlanCommands', () => {
    it('creates in the underlay namespace and moves the netdev to its end', () => {
      const end: LinkEnd = { netns: podA, name: 'nsm-2', alias: 'nsm:fwd:c2:client', mtu: 1450 };
      assert.deepEqual(
        vxlanCommands(
          end,
          { vni: 4242, local: '10.0.0.1', remote: '10.0.0.2', port: 4789, underlayDev: 'eth0' },
          'nsmtvx',
        ),
        [
          'link add name nsmtvx mtu 1450 type vxlan id 4242 local 10.0.0.1 remote 10.0.0.2 dstport 4789 dev eth0',
          'link set dev nsmtvx netns /var/run/netns/pod-a name nsm-2 alias nsm:fwd:c2:client up',
        ],
      );
    });

    it('supports an IPv6 underlay and rejects bad tunnel parameters', () => {
      const end: LinkEnd = { netns: podA, name: 'v', alias: 'a' };
      assert.match(
        vxlanCommands(end, { vni: 1, local: 'fd00::1', remote: 'fd00:0::2', port: 4789 }, 'nsmt1')[0],
        / local fd00::1 remote fd00::2 dstport 4789$/,
      );
      invalid(
        () => vxlanCommands(end, { vni: 0, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 }, 't'),
        /invalid vni 0/,
      );
      invalid(
        () => vxlanCommands(end, { vni: 2 ** 24, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 }, 't'),
        /invalid vni/,
      );
      invalid(
        () => vxlanCommands(end, { vni: 5, local: '10.0.0.1', remote: 'fd00::2', port: 4789 }, 't'),
        /invalid remote/,
      );
      invalid(
        () => vxlanCommands(end, { vni: 5, local: '10.0.0.1 dev x', remote: '10.0.0.2', port: 4789 }, 't'),
        /invalid local/,
      );
      invalid(
        () => vxlanCommands(end, { vni: 5, local: '10.0.0.1', remote: '10.0.0.2', port: 70000 }, 't'),
        /invalid port/,
      );
    });
  });

  describe('configureCommands', () => {
    it('raises the link, then adds addresses, routes and neighbours with replace semantics', () => {
      const cmds = configureCommands('nsm-1', {
        mtu: 1400,
        addresses: ['172.16.1.101/32', '2001:db8::1/64'],
        routes: [
          { prefix: '172.16.1.100/32' },
          { prefix: '10.1.2.3/16', via: '172.16.1.100' },
          { prefix: '2001:db8:1::/48', via: '2001:db8::2' },
          { prefix: '192.168.0.0/16', via: 'fe80::1' },
        ],
        neighbors: [{ ip: '172.16.1.100', mac: '02:00:00:00:00:02' }],
      });
      assert.deepEqual(cmds, [
        'link set dev nsm-1 mtu 1400 up',
        'addr replace 172.16.1.101/32 dev nsm-1',
        'addr replace 2001:db8::1/64 dev nsm-1 nodad',
        'route replace 172.16.1.100/32 dev nsm-1 scope link',
        'route replace 10.1.0.0/16 via 172.16.1.100 dev nsm-1 onlink',
        'route replace 2001:db8:1::/48 via 2001:db8::2 dev nsm-1 onlink',
        'route replace 192.168.0.0/16 via inet6 fe80::1 dev nsm-1 onlink',
        'neigh replace 172.16.1.100 lladdr 02:00:00:00:00:02 dev nsm-1 nud permanent',
      ]);
    });

    it('names the bad entry', () => {
      const empty = { addresses: [], routes: [], neighbors: [] };
      invalid(() => configureCommands('x', { ...empty, addresses: ['10.0.0.1'] }), /invalid addresses\[0\]/);
      invalid(
        () => configureCommands('x', { ...empty, routes: [{ prefix: 'default' }] }),
        /invalid routes\[0\]\.prefix/,
      );
      invalid(
        () => configureCommands('x', { ...empty, routes: [{ prefix: '::/0', via: '10.0.0.1' }] }),
        /invalid routes\[0\]\.via/,
      );
      invalid(
        () => configureCommands('x', { ...empty, neighbors: [{ ip: '10.0.0.1', mac: 'nope' }] }),
        /invalid neighbors\[0\]\.mac/,
      );
      invalid(() => configureCommands('bad name', empty), /invalid ifname/);
    });
  });

  it('deletes by device name', () => {
    assert.deepEqual(deleteLinkCommands('nsm-1'), ['link del dev nsm-1']);
  });
});
