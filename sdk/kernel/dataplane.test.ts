import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { type Dataplane, newDataplane } from './dataplane.js';
import { isKernelCommandError, newRecordingIpRunner, type RecordingIpRunner } from './iproute2.js';

const podA = { path: '/var/run/netns/pod-a' };
const podB = { path: '/var/run/netns/pod-b' };
const node = { path: '/var/run/netns/node' };

describe('dataplane (recorded iproute2)', () => {
  let runner: RecordingIpRunner;
  let dp: Dataplane;
  let n: number;

  beforeEach(() => {
    runner = newRecordingIpRunner();
    n = 0;
    dp = newDataplane({
      runner,
      tempName: () => `nsmt${++n}`,
      sameNetns: (a, b) => (a?.path ?? null) === (b?.path ?? null),
    });
  });

  describe('createVethPair', () => {
    it('makes the whole pair in one batch in the creating namespace', async () => {
      await dp.createVethPair(
        { netns: podA, name: 'nsm-1', alias: 'c1-client', mtu: 1500 },
        { netns: podB, name: 'nse-1', alias: 'c1-endpoint', mtu: 1500 },
      );
      assert.deepEqual(runner.batches, [
        {
          netns: null,
          force: false,
          commands: [
            'link add name nsmt1 mtu 1500 type veth peer name nsmt2 mtu 1500',
            'link set dev nsmt1 netns /var/run/netns/pod-a name nsm-1 alias c1-client up',
            'link set dev nsmt2 netns /var/run/netns/pod-b name nse-1 alias c1-endpoint up',
          ],
        },
      ]);
    });

    it('can make the pair in another namespace and renames in place an end that stays there', async () => {
      await dp.createVethPair(
        { netns: node, name: 'a', alias: 'x' },
        { netns: podB, name: 'b', alias: 'y' },
        { netns: node },
      );
      assert.equal(runner.batches[0].netns, node.path);
      assert.equal(runner.batches[0].commands[1], 'link set dev nsmt1 name a alias x up');
    });

    it('removes the temporary links when placing an end fails, and reports the failing command', async () => {
      runner.failOn('name nse-1', 'RTNETLINK answers: File exists', 1);
      const err = await dp
        .createVethPair(
          { netns: podA, name: 'nsm-1', alias: 'a' },
          { netns: podB, name: 'nse-1', alias: 'b' },
        )
        .catch((e: unknown) => e);
      assert.ok(isKernelCommandError(err));
      assert.equal(err.code, status.ALREADY_EXISTS);
      assert.match(err.command, /^link set dev nsmt2 netns \/var\/run\/netns\/pod-b name nse-1/);
      assert.match(
        err.message,
        /failed to run "ip link set dev nsmt2 .*" in the current network namespace: RTNETLINK answers: File exists/,
      );
      assert.deepEqual(runner.batches[1], {
        netns: null,
        force: true,
        commands: ['link del dev nsmt1', 'link del dev nsmt2'],
      });
    });

    it('does not clean up when iproute2 refused the create line itself', async () => {
      runner.failOn(/^link add/, 'RTNETLINK answers: Operation not permitted', 1);
      await assert.rejects(
        dp.createVethPair({ netns: podA, name: 'a', alias: 'a' }, { netns: podB, name: 'b', alias: 'b' }),
        (e: unknown) => isKernelCommandError(e) && e.code === status.PERMISSION_DENIED,
      );
      assert.equal(runner.batches.length, 1);
    });

    it('validates before running anything', async () => {
      await assert.rejects(
        dp.createVethPair({ netns: podA, name: 'a b', alias: 'a' }, { netns: podB, name: 'b', alias: 'b' }),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && /a\.name/.test(e.message),
      );
      assert.equal(runner.batches.length, 0);
    });
  });

  describe('createVxlan', () => {
    it('runs in the underlay namespace and places the netdev in the pod', async () => {
      await dp.createVxlan(
        { netns: podA, name: 'nsm-2', alias: 'c2', mtu: 1450 },
        { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789, underlayNetns: node },
      );
      assert.deepEqual(runner.batches, [
        {
          netns: node.path,
          force: false,
          commands: [
            'link add name nsmt1 mtu 1450 type vxlan id 7 local 10.0.0.1 remote 10.0.0.2 dstport 4789',
            'link set dev nsmt1 netns /var/run/netns/pod-a name nsm-2 alias c2 up',
          ],
        },
      ]);
    });

    it('removes the temporary netdev when the move fails', async () => {
      runner.failOn(/^link set/, 'Cannot open network namespace "pod-a": No such file or directory', 1);
      await assert.rejects(
        dp.createVxlan(
          { netns: podA, name: 'v', alias: 'a' },
          { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 },
        ),
        (e: unknown) => isKernelCommandError(e) && e.code === status.NOT_FOUND,
      );
      assert.deepEqual(runner.batches[1].commands, ['link del dev nsmt1']);
    });
  });

  describe('configure', () => {
    it('configures one interface in one batch in its namespace', async () => {
      await dp.configureInterface(podA, 'nsm-1', {
        addresses: ['172.16.1.101/32'],
        routes: [{ prefix: '172.16.1.100/32' }],
        neighbors: [],
      });
      assert.deepEqual(runner.batches, [
        {
          netns: podA.path,
          force: false,
          commands: [
            'link set dev nsm-1 up',
            'addr replace 172.16.1.101/32 dev nsm-1',
            'route replace 172.16.1.100/32 dev nsm-1 scope link',
          ],
        },
      ]);
    });

    it('configures several interfaces with one batch per namespace', async () => {
      const cfg = { addresses: [], routes: [], neighbors: [] };
      await dp.configureInterfaces([
        { netns: podA, ifname: 'a1', config: cfg },
        { netns: podB, ifname: 'b1', config: cfg },
        { netns: podA, ifname: 'a2', config: cfg },
      ]);
      assert.deepEqual(
        runner.batches.map((b) => [b.netns, b.commands]),
        [
          [podA.path, ['link set dev a1 up', 'link set dev a2 up']],
          [podB.path, ['link set dev b1 up']],
        ],
      );
    });
  });

  describe('deleteLink', () => {
    it('ignores a link that is already gone', async () => {
      runner.failOn('link del', 'Cannot find device "nsm-1"');
      await dp.deleteLink(podA, 'nsm-1');
      assert.deepEqual(runner.commands(), ['link del dev nsm-1']);
    });

    it('reports other failures', async () => {
      runner.failOn('link del', 'RTNETLINK answers: Operation not permitted');
      await assert.rejects(dp.deleteLink(podA, 'nsm-1'), (e: unknown) => isKernelCommandError(e));
    });
  });

  describe('queries', () => {
    it('maps `ip -json -d link show`', async () => {
      runner.setJson(
        '-d link show',
        [
          { ifindex: 1, ifname: 'lo', mtu: 65536, flags: ['LOOPBACK', 'UP'], address: '00:00:00:00:00:00' },
          {
            ifindex: 6,
            ifname: 'nsm-1',
            mtu: 1400,
            flags: ['BROADCAST', 'UP', 'LOWER_UP'],
            address: '8e:88:c7:c0:70:37',
            linkinfo: { info_kind: 'veth' },
            ifalias: 'c1-client',
          },
        ],
        podA.path,
      );
      assert.deepEqual(await dp.listLinks(podA), [
        { ifindex: 1, name: 'lo', mtu: 65536, address: '00:00:00:00:00:00', up: true },
        {
          ifindex: 6,
          name: 'nsm-1',
          alias: 'c1-client',
          mtu: 1400,
          address: '8e:88:c7:c0:70:37',
          kind: 'veth',
          up: true,
        },
      ]);
      assert.deepEqual(await dp.listLinks(podB), []);
    });

    it('maps routes of both families to CIDR prefixes', async () => {
      runner.setJson('-4 route show dev nsm-1', [
        { dst: '172.16.1.100', dev: 'nsm-1', scope: 'link', flags: [] },
        { dst: '10.1.0.0/16', gateway: '172.16.1.100', dev: 'nsm-1', flags: ['onlink'] },
        { dst: 'default', via: { family: 'inet6', host: 'fe80::1' }, dev: 'nsm-1', flags: ['onlink'] },
      ]);
      runner.setJson('-6 route show dev nsm-1', [{ dst: 'fd00::2', dev: 'nsm-1', flags: [] }]);
      assert.deepEqual(await dp.linkRoutes(podA, 'nsm-1'), [
        { prefix: '172.16.1.100/32', scope: 'link', family: 4, flags: [] },
        { prefix: '10.1.0.0/16', via: '172.16.1.100', family: 4, flags: ['onlink'] },
        { prefix: '0.0.0.0/0', via: 'fe80::1', family: 4, flags: ['onlink'] },
        { prefix: 'fd00::2/128', family: 6, flags: [] },
      ]);
    });

    it('finds the link that holds an address', async () => {
      runner.setJson('-d addr show', [
        {
          ifindex: 1,
          ifname: 'lo',
          mtu: 65536,
          addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }],
        },
        {
          ifindex: 2,
          ifname: 'eth0',
          mtu: 9000,
          address: '02:00:00:00:00:01',
          flags: ['UP'],
          addr_info: [{ family: 'inet6', local: 'fd00::0:1', prefixlen: 64, scope: 'global' }],
        },
      ]);
      assert.equal((await dp.findAddressOwner(null, 'fd00::1'))?.mtu, 9000);
      assert.equal(await dp.findAddressOwner(null, '10.9.9.9'), undefined);
    });
  });
});
