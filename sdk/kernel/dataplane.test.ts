import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { isNsmError } from '../errors/index.js';
import { type Dataplane, newDataplane } from './dataplane.js';
import { isKernelCommandError, KernelCommandError } from './iproute2.js';
import { newRecordingIpRunner, type RecordingIpRunner } from './recording-ip-runner.js';

const podA = { path: '/var/run/netns/pod-a' };
const podB = { path: '/var/run/netns/pod-b' };
const node = { path: '/var/run/netns/node' };

describe('dataplane (recorded iproute2)', () => {
  let runner: RecordingIpRunner;
  let dp: Dataplane;

  beforeEach(() => {
    runner = newRecordingIpRunner();
    dp = newDataplane(runner);
  });

  describe('createVethPair', () => {
    it('creates in the creating namespace, then marks and raises each end in its own, in parallel', async () => {
      await dp.createVethPair(
        { netns: podA, name: 'nsm-1', alias: 'c1-client', mtu: 1500 },
        { netns: podB, name: 'nse-1', alias: 'c1-endpoint', mtu: 1500 },
      );
      assert.deepEqual(runner.batches, [
        {
          netns: null,
          force: false,
          commands: [
            'link add name nsm-1 netns /var/run/netns/pod-a mtu 1500 type veth peer name nse-1 netns /var/run/netns/pod-b mtu 1500',
          ],
        },
        { netns: podA.path, force: false, commands: ['link set dev nsm-1 alias c1-client up'] },
        { netns: podB.path, force: false, commands: ['link set dev nse-1 alias c1-endpoint up'] },
      ]);
    });

    it('sets up an end in the creating namespace in the create batch, the other end after it', async () => {
      const config = { addresses: ['10.0.0.1/24'], routes: [], neighbors: [] };
      await dp.createVethPair(
        { netns: null, name: 'a', alias: 'x', config },
        { netns: podB, name: 'b', alias: 'y' },
        { netns: node },
      );
      assert.deepEqual(
        runner.batches.map((b) => [b.netns, b.commands]),
        [
          [
            node.path,
            [
              'link add name a type veth peer name b netns /var/run/netns/pod-b',
              'link set dev a alias x up',
              'addr replace 10.0.0.1/24 dev a',
            ],
          ],
          [podB.path, ['link set dev b alias y up']],
        ],
      );
    });

    it('sets up the ends in the create batch when both stay in the creating namespace', async () => {
      await dp.createVethPair(
        { netns: null, name: 'a', alias: 'x' },
        { netns: null, name: 'b', alias: 'y' },
        { netns: node },
      );
      assert.deepEqual(
        runner.batches.map((b) => [b.netns, b.commands]),
        [
          [
            node.path,
            [
              'link add name a type veth peer name b',
              'link set dev a alias x up',
              'link set dev b alias y up',
            ],
          ],
        ],
      );
    });

    it('deletes the pair when setting up an end fails, and reports the failing command', async () => {
      runner.failOn('alias c1-endpoint', 'RTNETLINK answers: Operation not permitted', 1);
      const err = await dp
        .createVethPair(
          { netns: podA, name: 'nsm-1', alias: 'c1-client' },
          { netns: podB, name: 'nse-1', alias: 'c1-endpoint' },
        )
        .catch((e: unknown) => e);
      assert.ok(isKernelCommandError(err));
      assert.equal(err.code, status.PERMISSION_DENIED);
      assert.equal(err.command, 'link set dev nse-1 alias c1-endpoint up');
      assert.equal(
        err.message,
        'failed to run "ip link set dev nse-1 alias c1-endpoint up" in /var/run/netns/pod-b: RTNETLINK answers: Operation not permitted',
      );
      assert.deepEqual(runner.batches.at(-1), {
        netns: podA.path,
        force: false,
        commands: ['link del dev nsm-1'],
      });
    });

    it('deletes nothing when iproute2 refused the create line (a taken name makes nothing)', async () => {
      runner.failOn(/^link add/, 'RTNETLINK answers: File exists', 1);
      await assert.rejects(
        dp.createVethPair({ netns: podA, name: 'a', alias: 'a' }, { netns: podB, name: 'b', alias: 'b' }),
        (e: unknown) => isKernelCommandError(e) && e.code === status.ALREADY_EXISTS,
      );
      assert.equal(runner.batches.length, 1);
    });

    it('validates before running anything', async () => {
      await assert.rejects(
        dp.createVethPair({ netns: podA, name: 'a b', alias: 'a' }, { netns: podB, name: 'b', alias: 'b' }),
        (e: unknown) => isNsmError(e) && e.code === status.INVALID_ARGUMENT && /a\.name/.test(e.message),
      );
      await assert.rejects(
        dp.createVethPair(
          { netns: podA, name: 'a', alias: 'a', config: { addresses: ['bad'], routes: [], neighbors: [] } },
          { netns: podB, name: 'b', alias: 'b' },
        ),
        (e: unknown) =>
          isNsmError(e) && e.code === status.INVALID_ARGUMENT && /addresses\[0\]/.test(e.message),
      );
      assert.equal(runner.batches.length, 0);
    });

    it('does not start when already cancelled', async () => {
      const ac = new AbortController();
      ac.abort();
      await assert.rejects(
        dp.createVethPair(
          { netns: podA, name: 'a', alias: 'a' },
          { netns: podB, name: 'b', alias: 'b' },
          { signal: ac.signal },
        ),
        (e: unknown) => isNsmError(e) && e.code === status.CANCELLED,
      );
      assert.equal(runner.batches.length, 0);
    });
  });

  describe('createVxlan', () => {
    it('creates from the underlay namespace straight into the pod, then marks, raises and configures it there', async () => {
      await dp.createVxlan(
        {
          netns: podA,
          name: 'nsm-2',
          alias: 'c2',
          mtu: 1450,
          config: { addresses: ['172.16.2.101/32'], routes: [], neighbors: [] },
        },
        { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789, underlayNetns: node },
      );
      assert.deepEqual(
        runner.batches.map((b) => [b.netns, b.commands]),
        [
          [
            node.path,
            [
              'link add name nsm-2 netns /var/run/netns/pod-a mtu 1450 type vxlan id 7 local 10.0.0.1 remote 10.0.0.2 dstport 4789',
            ],
          ],
          [podA.path, ['link set dev nsm-2 alias c2 up', 'addr replace 172.16.2.101/32 dev nsm-2']],
        ],
      );
    });

    it('removes the netdev when its set-up fails', async () => {
      runner.failOn(/^addr/, 'Error: ipv6: IPv6 is disabled on this device.', 1);
      await assert.rejects(
        dp.createVxlan(
          {
            netns: podA,
            name: 'v',
            alias: 'a',
            config: { addresses: ['fd00::1/64'], routes: [], neighbors: [] },
          },
          { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 },
        ),
        (e: unknown) => isKernelCommandError(e) && e.code === status.INTERNAL,
      );
      assert.deepEqual(runner.batches.at(-1)?.commands, ['link del dev v']);
    });

    it('after a timeout, removes the netdev only if it carries our alias or none', async () => {
      const timeout = newRecordingIpRunner();
      // A runner whose create "times out": the link may or may not exist.
      const dp2 = newDataplane({
        ...timeout,
        batch: async (netns, commands, opts) => {
          await timeout.batch(netns, commands, opts);
          if (commands[0].startsWith('link add')) {
            throw new KernelCommandError({
              command: commands[0],
              stderr: 'timed out',
              netns: null,
              code: status.DEADLINE_EXCEEDED,
            });
          }
        },
      });
      timeout.setJson('link show dev v', [{ ifname: 'v', ifalias: 'someone-else' }]);
      await assert.rejects(
        dp2.createVxlan(
          { netns: podA, name: 'v', alias: 'mine' },
          { vni: 7, local: '10.0.0.1', remote: '10.0.0.2', port: 4789 },
        ),
        (e: unknown) => isNsmError(e) && e.code === status.DEADLINE_EXCEEDED,
      );
      assert.ok(!timeout.commands().includes('link del dev v'), "someone else's link must survive");
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

    it('lists the links carrying an alias prefix, with the VNI of a VXLAN link', async () => {
      runner.setJson(
        '-d link show',
        [
          { ifindex: 1, ifname: 'lo', mtu: 65536, flags: ['UP'], address: '00:00:00:00:00:00' },
          {
            ifindex: 5,
            ifname: 'x',
            mtu: 1500,
            ifalias: 'nsm:other:c1:client',
            linkinfo: { info_kind: 'veth' },
          },
          {
            ifindex: 6,
            ifname: 'nsm-1',
            mtu: 1450,
            flags: ['UP'],
            address: '02:00:00:00:00:01',
            ifalias: 'nsm:fwd@10.0.0.1:c1:client',
            linkinfo: { info_kind: 'vxlan', info_data: { id: 4242, port: 4789 } },
          },
        ],
        podA.path,
      );
      assert.deepEqual(await dp.listOwnedLinks(podA, 'nsm:fwd@10.0.0.1:'), [
        {
          ifindex: 6,
          name: 'nsm-1',
          alias: 'nsm:fwd@10.0.0.1:c1:client',
          mtu: 1450,
          address: '02:00:00:00:00:01',
          kind: 'vxlan',
          vni: 4242,
          up: true,
        },
      ]);
      await assert.rejects(dp.listOwnedLinks(podA, ''), /aliasPrefix must not be empty/);
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
