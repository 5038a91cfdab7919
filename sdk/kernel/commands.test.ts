import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import {
  configureCommands,
  deleteLinkCommands,
  type LinkEnd,
  setupCommands,
  vethCreateCommand,
  vxlanCreateCommand,
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
  describe('vethCreateCommand', () => {
    it('creates each end directly in its namespace, sized and with its MAC', () => {
      const a: LinkEnd = {
        netns: podA,
        name: 'nsm-1',
        alias: 'nsm:fwd:c1:client',
        mtu: 1446,
        mac: '02:00:00:00:00:01',
      };
      const b: LinkEnd = { netns: podB, name: 'nse-1', alias: 'nsm:fwd:c1:endpoint', mtu: 1446 };
      assert.equal(
        vethCreateCommand(a, b),
        'link add name nsm-1 netns /var/run/netns/pod-a mtu 1446 address 02:00:00:00:00:01 type veth' +
          ' peer name nse-1 netns /proc/4242/ns/net mtu 1446',
      );
    });

    it('leaves an end without namespace in the creating one', () => {
      assert.equal(
        vethCreateCommand(
          { netns: null, name: 'host-end', alias: 'x' },
          { netns: podA, name: 'pod-end', alias: 'y' },
        ),
        'link add name host-end type veth peer name pod-end netns /var/run/netns/pod-a',
      );
    });

    it('rejects bad names, aliases and paths naming the field, before emitting anything', () => {
      const ok: LinkEnd = { netns: podA, name: 'ok', alias: 'ok' };
      invalid(() => vethCreateCommand({ ...ok, name: 'x\nlink del dev eth0' }, ok), /invalid a\.name/);
      invalid(() => vethCreateCommand(ok, { ...ok, name: 'way-too-long-name' }), /invalid b\.name/);
      invalid(() => vethCreateCommand(ok, { ...ok, name: 'b', alias: 'two words' }), /invalid b\.alias/);
      invalid(() => vethCreateCommand({ ...ok, netns: { path: '/x y' } }, ok), /invalid a\.netns/);
      invalid(() => vethCreateCommand({ ...ok, mtu: 10 }, { ...ok, name: 'b' }), /invalid a\.mtu/);
      invalid(() => vethCreateCommand({ ...ok, mac: '02:00' }, { ...ok, name: 'b' }), /invalid a\.mac/);
      invalid(() => vethCreateCommand(ok, ok), /same namespace/);
    });
  });

  describe('setupCommands', () => {
    it('marks the link and brings it up', () => {
      assert.deepEqual(setupCommands({ netns: podA, name: 'nsm-1', alias: 'nsm:fwd:c1:client', mtu: 1400 }), [
        'link set dev nsm-1 alias nsm:fwd:c1:client up',
      ]);
    });
    it('carries the configuration when there is one', () => {
      const config = {
        addresses: ['172.16.1.101/32'],
        routes: [{ prefix: '172.16.1.100/32' }],
        neighbors: [],
        mtu: 1300,
      };
      assert.deepEqual(setupCommands({ netns: podA, name: 'nsm-1', alias: 'c1', config }), [
        'link set dev nsm-1 alias c1 mtu 1300 up',
        'addr replace 172.16.1.101/32 dev nsm-1',
        'route replace 172.16.1.100/32 dev nsm-1 scope link',
      ]);
    });
  });

  describe('vxlanCreateCommand', () => {
    it('creates the netdev from the underlay namespace directly in the end namespace', () => {
      const end: LinkEnd = { netns: podA, name: 'nsm-2', alias: 'nsm:fwd:c2:client', mtu: 1450 };
      assert.equal(
        vxlanCreateCommand(end, {
          vni: 4242,
          local: '10.0.0.1',
          remote: '10.0.0.2',
          port: 4789,
          underlayDev: 'eth0',
        }),
        'link add name nsm-2 netns /var/run/netns/pod-a mtu 1450 type vxlan id 4242 local 10.0.0.1 remote 10.0.0.2 dstport 4789 dev eth0',
      );
    });

    it('supports an IPv6 underlay and rejects bad tunnel parameters', () => {
      const end: LinkEnd = { netns: podA, name: 'v', alias: 'a' };
      const v = { vni: 5, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 };
      assert.match(
        vxlanCreateCommand(end, { vni: 1, local: 'fd00::1', remote: 'fd00:0::2', port: 4789 }),
        / local fd00::1 remote fd00::2 dstport 4789$/,
      );
      invalid(() => vxlanCreateCommand(end, { ...v, vni: 0 }), /invalid vni 0/);
      invalid(() => vxlanCreateCommand(end, { ...v, vni: 2 ** 24 }), /invalid vni/);
      invalid(
        () => vxlanCreateCommand(end, { ...v, remote: 'fd00::2' }),
        /must be of one family: local .*, remote "fd00::2"/,
      );
      invalid(() => vxlanCreateCommand(end, { ...v, local: '10.0.0.1 dev x' }), /invalid local/);
      invalid(() => vxlanCreateCommand(end, { ...v, port: 70000 }), /invalid port/);
      invalid(() => vxlanCreateCommand(end, { ...v, underlayDev: 'eth0 up' }), /invalid underlayDev/);
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
