// The dataplane against the real kernel (root only): everything happens inside throw-away namespaces
// (nsmk-*), including the "node" namespaces that create links, and all of it is removed afterwards.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomInt } from 'node:crypto';
import { promisify } from 'node:util';
import { status } from '@grpc/grpc-js';
import { IPContext } from '../../api/gen/networkservice/connectioncontext.js';
import { contextPlan } from './connection-context.js';
import { newDataplane } from './dataplane.js';
import { isKernelCommandError, type NetnsRef, newIpRunner } from './iproute2.js';
import {
  isRoot,
  leftoverNamespaces,
  ownLinkNames,
  TestNamespaces,
  type TestNetns,
  waitForLine,
} from './testing.js';

const run = promisify(execFile);

/** A one-shot UDP receiver inside ns; resolves with what it got. */
async function udpReceive(spaces: TestNamespaces, ns: TestNetns, ip: string, port: number) {
  const family = ip.includes(':') ? 'udp6' : 'udp4';
  const child = spaces.spawnIn(ns, [
    process.execPath,
    '-e',
    `const s = require('dgram').createSocket('${family}');
     s.on('message', (m, r) => { console.log('got ' + m + ' from ' + r.address); process.exit(0); });
     s.bind(${port}, '${ip}', () => console.log('ready'));
     setTimeout(() => process.exit(3), 8000);`,
  ]);
  await waitForLine(child, /ready/);
  return { got: waitForLine(child, /^got /) };
}

function udpSend(
  spaces: TestNamespaces,
  ns: TestNetns,
  ip: string,
  port: number,
  text: string,
): Promise<string> {
  const family = ip.includes(':') ? 'udp6' : 'udp4';
  return spaces.nodeIn(
    ns,
    `const s = require('dgram').createSocket('${family}');
     s.send('${text}', ${port}, '${ip}', (e) => { if (e) { console.error(e.message); process.exit(1); } s.close(); });`,
  );
}

async function linkNames(ns: NetnsRef): Promise<string[]> {
  const links = await newDataplane().listLinks(ns);
  return links.map((l) => l.name);
}

describe('dataplane on the real kernel', function () {
  this.timeout(60_000);
  const spaces = new TestNamespaces();
  const dp = newDataplane({ runner: newIpRunner() });
  let ownLinksBefore: string[];

  before(async function () {
    if (!isRoot()) this.skip();
    ownLinksBefore = await ownLinkNames();
  });

  afterEach(() => spaces.cleanup());

  after(async () => {
    if (!isRoot()) return;
    assert.deepEqual(await leftoverNamespaces(), [], 'test namespaces left behind');
    assert.deepEqual(await ownLinkNames(), ownLinksBefore, 'links appeared in our own namespace');
  });

  it('connects two pods with a veth pair that carries IPv4 and IPv6', async () => {
    const podA = await spaces.add('pa');
    const podB = await spaces.add('pb');
    // podB is referenced through a process, as a client's inode:// would resolve to.
    const holder = spaces.spawnIn(podB, ['sh', '-c', 'echo up; exec sleep 60']);
    await waitForLine(holder, /up/);
    const podBProc = { path: `/proc/${holder.pid}/ns/net` };

    const ipContext = IPContext.fromPartial({
      srcIpAddrs: ['172.16.1.101/32', 'fd00::101/128'],
      dstIpAddrs: ['172.16.1.100/32', 'fd00::100/128'],
      srcRoutes: [{ prefix: '172.16.1.100/32' }, { prefix: '10.60.0.0/16' }],
      dstRoutes: [{ prefix: '172.16.1.101/32' }],
    });
    await dp.createVethPair(
      { netns: podA, name: 'nsm-1', alias: 'nsm:fwd:c1:client', mtu: 1400, mac: '02:00:00:00:01:01' },
      { netns: podBProc, name: 'nse-1', alias: 'nsm:fwd:c1:endpoint', mtu: 1400 },
    );
    await dp.configureInterfaces([
      { netns: podA, ifname: 'nsm-1', config: contextPlan('client', ipContext) },
      { netns: podBProc, ifname: 'nse-1', config: contextPlan('endpoint', ipContext) },
    ]);

    const [a] = (await dp.listLinks(podA)).filter((l) => l.name === 'nsm-1');
    assert.deepEqual(
      { ...a, ifindex: 0 },
      {
        ifindex: 0,
        name: 'nsm-1',
        alias: 'nsm:fwd:c1:client',
        mtu: 1400,
        address: '02:00:00:00:01:01',
        kind: 'veth',
        up: true,
      },
    );
    const [b] = (await dp.listLinks(podB)).filter((l) => l.name === 'nse-1');
    assert.equal(b.alias, 'nsm:fwd:c1:endpoint');
    assert.equal(await dp.linkMac(podBProc, 'nse-1'), b.address);
    assert.deepEqual(await ownLinkNames(), ownLinksBefore, 'nothing appears in the creating namespace');

    const addrs = (await dp.linkAddresses(podA, 'nsm-1'))
      .filter((x) => x.scope === 'global')
      .map((x) => x.address);
    assert.deepEqual(addrs.sort(), ['172.16.1.101/32', 'fd00::101/128']);
    const routes = (await dp.linkRoutes(podA, 'nsm-1')).filter((r) => r.protocol !== 'kernel');
    assert.deepEqual(
      routes.map((r) => [r.prefix, r.via ?? '-', r.scope ?? '-']),
      [
        ['10.60.0.0/16', '172.16.1.100', '-'],
        ['172.16.1.100/32', '-', 'link'],
        ['fd00::100/128', '-', '-'],
      ],
    );

    for (const [dst, src] of [
      ['172.16.1.100', '172.16.1.101'],
      ['fd00::100', 'fd00::101'],
    ]) {
      const rx = await udpReceive(spaces, podB, dst, 5555);
      await udpSend(spaces, podA, dst, 5555, 'hello');
      assert.equal(await rx.got, `got hello from ${src}`);
    }

    // A name taken in one target namespace: the kernel says ALREADY_EXISTS and creates neither end.
    await assert.rejects(
      dp.createVethPair(
        { netns: podA, name: 'nsm-1', alias: 'x' },
        { netns: podB, name: 'nse-2', alias: 'y' },
      ),
      (e: unknown) => isKernelCommandError(e) && e.code === status.ALREADY_EXISTS,
    );
    assert.ok(!(await linkNames(podB)).includes('nse-2'));

    // Deleting one end removes the pair; deleting again is fine.
    await dp.deleteLink(podA, 'nsm-1');
    assert.ok(!(await linkNames(podB)).includes('nse-1'));
    await dp.deleteLink(podA, 'nsm-1');
    await dp.deleteLink({ path: '/var/run/netns/nsmk-gone' }, 'nsm-1');
  });

  it('keeps an end without namespace in the creating namespace', async () => {
    const node = await spaces.add('node');
    const pod = await spaces.add('pod');
    await dp.createVethPair(
      { netns: null, name: 'host-1', alias: 'h' },
      { netns: pod, name: 'pod-1', alias: 'p' },
      { netns: node },
    );
    assert.deepEqual(await linkNames(node), ['lo', 'host-1']);
    assert.equal((await dp.listLinks(node)).find((l) => l.name === 'host-1')?.alias, 'h');
    assert.deepEqual(await linkNames(pod), ['lo', 'pod-1']);
  });

  it('tunnels between two pods on two nodes with VXLAN whose socket stays on the node', async () => {
    const net = randomInt(10, 250);
    const [node1, node2, pod1, pod2] = await Promise.all([
      spaces.add('n1'),
      spaces.add('n2'),
      spaces.add('p1'),
      spaces.add('p2'),
    ]);
    const [u1, u2] = [`10.${net}.0.1`, `10.${net}.0.2`];
    // Underlay: a veth between the two node namespaces.
    await dp.createVethPair(
      { netns: node1, name: 'eth0', alias: 'u' },
      { netns: node2, name: 'eth0', alias: 'u' },
      { netns: node1 },
    );
    await dp.configureInterfaces([
      { netns: node1, ifname: 'eth0', config: { addresses: [`${u1}/24`], routes: [], neighbors: [] } },
      { netns: node2, ifname: 'eth0', config: { addresses: [`${u2}/24`], routes: [], neighbors: [] } },
    ]);
    const owner = await dp.findAddressOwner(node1, u1);
    assert.equal(owner?.name, 'eth0');

    const vni = randomInt(1, 0xffffff);
    const mtu = (owner?.mtu ?? 1500) - 50;
    await Promise.all([
      dp.createVxlan(
        { netns: pod1, name: 'nsm-1', alias: 'c:client', mtu },
        { vni, local: u1, remote: u2, port: 4789, underlayDev: 'eth0', underlayNetns: node1 },
      ),
      dp.createVxlan(
        { netns: pod2, name: 'nse-1', alias: 'c:endpoint', mtu },
        { vni, local: u2, remote: u1, port: 4789, underlayNetns: node2 },
      ),
    ]);
    const ipContext = IPContext.fromPartial({
      srcIpAddrs: ['172.16.2.101/32'],
      dstIpAddrs: ['172.16.2.100/32'],
      srcRoutes: [{ prefix: '172.16.2.100/32' }],
      dstRoutes: [{ prefix: '172.16.2.101/32' }],
    });
    await dp.configureInterfaces([
      { netns: pod1, ifname: 'nsm-1', config: contextPlan('client', ipContext) },
      { netns: pod2, ifname: 'nse-1', config: contextPlan('endpoint', ipContext) },
    ]);

    const [v] = (await dp.listLinks(pod1)).filter((l) => l.name === 'nsm-1');
    assert.equal(v.kind, 'vxlan');
    assert.equal(v.alias, 'c:client');
    assert.equal(v.mtu, mtu);
    assert.ok(v.up);
    assert.deepEqual(await linkNames(node1), ['lo', 'eth0'], 'nothing but the underlay on the node');

    // The UDP socket of the tunnel is in the node namespace, not in the pod.
    const sockets = async (ns: TestNetns) =>
      (await run('ip', ['netns', 'exec', ns.name, 'ss', '-Hunl'])).stdout;
    assert.match(await sockets(node1), /:4789\b/);
    assert.doesNotMatch(await sockets(pod1), /:4789\b/);

    const rx = await udpReceive(spaces, pod2, '172.16.2.100', 6666);
    await udpSend(spaces, pod1, '172.16.2.100', 6666, 'over-vxlan');
    assert.equal(await rx.got, 'got over-vxlan from 172.16.2.101');

    // Same VNI and local address again in the same node namespace: the kernel refuses, nothing is left over.
    await assert.rejects(
      dp.createVxlan(
        { netns: pod1, name: 'nsm-9', alias: 'dup' },
        { vni, local: u1, remote: u2, port: 4789, underlayNetns: node1 },
      ),
      (e: unknown) => isKernelCommandError(e),
    );
    assert.deepEqual(await linkNames(node1), ['lo', 'eth0']);
  });

  it('reports timings', async function () {
    const node = await spaces.add('node');
    const podA = await spaces.add('ta');
    const podB = await spaces.add('tb');
    const runner = newIpRunner();
    const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
    const time = async (f: () => Promise<unknown>) => {
      const t = performance.now();
      await f();
      return performance.now() - t;
    };
    const own: number[] = [];
    const named: number[] = [];
    for (let i = 0; i < 20; i++) {
      own.push(await time(() => runner.json(null, ['link', 'show', 'dev', 'lo'])));
      named.push(await time(() => runner.batch(podA, ['link set dev lo up', 'link set dev lo mtu 65536'])));
    }
    const pair: number[] = [];
    const pairWithConfig: number[] = [];
    const vxlan: number[] = [];
    const del: number[] = [];
    const ipContext = IPContext.fromPartial({
      srcIpAddrs: ['172.16.3.101/32'],
      dstIpAddrs: ['172.16.3.100/32'],
      srcRoutes: [{ prefix: '172.16.3.100/32' }],
      dstRoutes: [{ prefix: '172.16.3.101/32' }],
    });
    await dp.createVethPair(
      { netns: node, name: 'eth0', alias: 'u' },
      { netns: null, name: 'peer0', alias: 'u' },
      { netns: node },
    );
    await dp.configureInterface(node, 'eth0', { addresses: ['10.99.0.1/24'], routes: [], neighbors: [] });
    for (let i = 0; i < 10; i++) {
      // Create, then configure both ends: 1 + 2 + 2 processes in three rounds.
      pair.push(
        await time(async () => {
          await dp.createVethPair(
            { netns: podA, name: `a${i}`, alias: `c${i}:client`, mtu: 1500 },
            { netns: podB, name: `b${i}`, alias: `c${i}:endpoint`, mtu: 1500 },
          );
          await dp.configureInterfaces([
            { netns: podA, ifname: `a${i}`, config: contextPlan('client', ipContext) },
            { netns: podB, ifname: `b${i}`, config: contextPlan('endpoint', ipContext) },
          ]);
        }),
      );
      // The configuration carried in the ends: 1 + 2 processes in two rounds.
      pairWithConfig.push(
        await time(() =>
          dp.createVethPair(
            {
              netns: podA,
              name: `x${i}`,
              alias: `d${i}:client`,
              mtu: 1500,
              config: contextPlan('client', ipContext),
            },
            {
              netns: podB,
              name: `y${i}`,
              alias: `d${i}:endpoint`,
              mtu: 1500,
              config: contextPlan('endpoint', ipContext),
            },
          ),
        ),
      );
      vxlan.push(
        await time(() =>
          dp.createVxlan(
            {
              netns: podA,
              name: `v${i}`,
              alias: `e${i}:client`,
              mtu: 1450,
              config: contextPlan('client', ipContext),
            },
            { vni: 100 + i, local: '10.99.0.1', remote: '10.99.0.2', port: 4789, underlayNetns: node },
          ),
        ),
      );
    }
    for (let i = 0; i < 10; i++) del.push(await time(() => dp.deleteLink(podA, `a${i}`)));
    const report = {
      ownNetnsQueryMs: median(own).toFixed(1),
      namedNetnsBatchMs: median(named).toFixed(1),
      vethPairThenConfigureBothMs: median(pair).toFixed(1),
      vethPairWithConfigMs: median(pairWithConfig).toFixed(1),
      vxlanWithConfigMs: median(vxlan).toFixed(1),
      deleteVethMs: median(del).toFixed(1),
    };
    this.test!.title += ` ${JSON.stringify(report)}`;
    assert.ok(median(pair) < 1000);
  });
});
