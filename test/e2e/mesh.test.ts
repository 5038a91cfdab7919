// End-to-end: the real registry, nsmgrs, forwarders, endpoints and clients in real namespaces.
import assert from 'node:assert/strict';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, links, routes, sh } from '../../sdk/tools/sandbox/shell.js';
import {
  assertTraffic,
  close,
  hostIP,
  kernelMechanism,
  newConnection,
  request,
  resetPool,
} from './helpers.js';

describe('core mesh (e2e)', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let nsePod: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 2 });
    nsePod = await sb.addPod(sb.node('node2'), 'nse-a');
    await sb.startEndpoint(nsePod, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.1.0/24' });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  describe('local and remote connections from the nsc binary', () => {
    const conns: Record<string, { pod: Pod; conn: Connection }> = {};

    before(async () => {
      for (const [kind, node] of [
        ['local', 'node2'],
        ['remote', 'node1'],
      ] as const) {
        const pod = await sb.addPod(sb.node(node), `nsc-${kind}`);
        const { connections } = await sb.startClient(pod, 'kernel://icmp/nsm-1');
        conns[kind] = { pod, conn: connections[0] };
      }
    });

    for (const kind of ['local', 'remote']) {
      it(`carries TCP and UDP both ways over a ${kind} connection`, async () => {
        const { pod, conn } = conns[kind];
        const ip = conn.context!.ipContext!;
        await assertTraffic(sb, pod, nsePod, hostIP(ip.dstIpAddrs[0]), 7001);
        await assertTraffic(sb, nsePod, pod, hostIP(ip.srcIpAddrs[0]), 7002);
      });

      it(`puts the connection context's addresses and routes on both ends (${kind})`, async () => {
        const { pod, conn } = conns[kind];
        const ip = conn.context!.ipContext!;
        assert.deepEqual(await addresses(pod.netns, 'nsm-1'), ip.srcIpAddrs);
        const clientRoutes = (await routes(pod.netns, 'nsm-1')).map((r) => r.dst);
        for (const dst of ip.dstIpAddrs)
          assert.ok(clientRoutes.includes(hostIP(dst)), `client route to ${dst}`);
        const endpointLink = (await links(nsePod.netns)).find((l) =>
          conn.path!.pathSegments.some((s) => l.ifalias?.includes(s.id)),
        );
        assert.ok(endpointLink, 'endpoint interface marked with the connection');
        assert.deepEqual(await addresses(nsePod.netns, endpointLink.ifname), ip.dstIpAddrs);
        const endpointRoutes = (await routes(nsePod.netns, endpointLink.ifname)).map((r) => r.dst);
        for (const src of ip.srcIpAddrs)
          assert.ok(endpointRoutes.includes(hostIP(src)), `endpoint route to ${src}`);
        const kindOnClient = (await links(pod.netns)).find((l) => l.ifname === 'nsm-1')?.linkinfo?.info_kind;
        assert.equal(kindOnClient, kind === 'local' ? 'veth' : 'vxlan');
      });
    }

    it('gives two clients of one service distinct addresses', () => {
      const a = conns.local.conn.context!.ipContext!;
      const b = conns.remote.conn.context!.ipContext!;
      const all = [...a.srcIpAddrs, ...a.dstIpAddrs, ...b.srcIpAddrs, ...b.dstIpAddrs];
      assert.equal(new Set(all).size, all.length, `addresses overlap: ${all.join(', ')}`);
    });

    it('records the whole path, client to endpoint', () => {
      assert.deepEqual(
        conns.remote.conn.path!.pathSegments.map((s) => s.name),
        ['nsc-remote', 'nsmgr-node1', 'forwarder-node1', 'nsmgr-node2', 'forwarder-node2', 'nse-a'],
      );
      assert.ok(conns.remote.conn.path!.pathSegments.every((s) => s.expires && s.token));
    });

    it('removes every interface on both nodes when the clients close', async () => {
      const before = await links(nsePod.netns);
      assert.ok(before.length >= 3, 'endpoint has its two connection interfaces');
      for (const d of sb.daemons.filter((x) => x.name.startsWith('nsc-'))) await d.stop();
      assert.deepEqual(await sb.podLinks(), []);
      assert.deepEqual(await sb.nodeLinks(), []);
    });
  });

  describe('payloads and address families', () => {
    it('carries IPv4 and IPv6 over one dual-stack connection, local and remote', async () => {
      const nse = await sb.addPod(sb.node('node2'), 'nse-ds');
      await sb.startEndpoint(nse, {
        NSM_SERVICE_NAMES: 'dual',
        NSM_CIDR_PREFIX: '172.16.6.0/24,fd00:6::/64',
      });
      for (const node of ['node2', 'node1']) {
        const pod = await sb.addPod(sb.node(node), `nsc-ds-${node}`);
        const { daemon, connections } = await sb.startClient(pod, 'kernel://dual/nsm-ds');
        const ip = connections[0].context!.ipContext!;
        assert.equal(ip.srcIpAddrs.length, 2, `one address per family: ${ip.srcIpAddrs}`);
        for (const dst of ip.dstIpAddrs) await assertTraffic(sb, pod, nse, hostIP(dst), 7010);
        for (const src of ip.srcIpAddrs) await assertTraffic(sb, nse, pod, hostIP(src), 7011);
        await daemon.stop();
      }
      assert.deepEqual(await sb.podLinks(), []);
    });

    it('uses static neighbour entries for an IP payload service', async () => {
      const nse = await sb.addPod(sb.node('node2'), 'nse-ip');
      await sb.startEndpoint(nse, {
        NSM_SERVICE_NAMES: 'l3',
        NSM_PAYLOAD: 'IP',
        NSM_CIDR_PREFIX: '172.16.7.0/24',
      });
      const pod = await sb.addPod(sb.node('node2'), 'nsc-ip');
      const { daemon, connections } = await sb.startClient(pod, 'kernel://l3/nsm-ip');
      const conn = connections[0];
      assert.equal(conn.payload, 'IP');
      const peer = hostIP(conn.context!.ipContext!.dstIpAddrs[0]);
      const neigh = await sh('ip', ['-n', pod.netns, 'neigh', 'show', 'dev', 'nsm-ip']);
      assert.match(neigh, new RegExp(`${peer.replaceAll('.', '\\.')} lladdr [0-9a-f:]+ PERMANENT`));
      await assertTraffic(sb, pod, nse, peer, 7012);
      await daemon.stop();
      assert.deepEqual(await sb.podLinks(), []);
    });
  });

  describe('endpoint selection', () => {
    it('spreads clients over two endpoints of one service (round robin)', async () => {
      const node2 = sb.node('node2');
      for (const name of ['rr-1', 'rr-2']) {
        await sb.startEndpoint(await sb.addPod(node2, name), {
          NSM_SERVICE_NAMES: 'rr',
          NSM_CIDR_PREFIX: '172.16.2.0/24',
        });
      }
      const pod = await sb.addPod(node2, 'nsc-rr');
      const chosen: string[] = [];
      const opened: Connection[] = [];
      try {
        for (let i = 0; i < 4; i++) {
          const conn = await request(node2, newConnection(`rr-conn-${i}`, 'rr'), [
            kernelMechanism({ name: `rr${i}`, inodeURL: `file:///var/run/netns/${pod.netns}` }),
          ]);
          opened.push(conn);
          chosen.push(conn.networkServiceEndpointName);
        }
      } finally {
        for (const c of opened) await close(node2, c);
      }
      assert.deepEqual([...new Set(chosen)].sort(), ['rr-1', 'rr-2']);
      assert.notEqual(chosen[0], chosen[1]);
      assert.deepEqual(await sb.podLinks(), []);
    });

    it('picks the endpoint that the NetworkService matches select by labels', async () => {
      const node1 = sb.node('node1');
      const { newNsRegistryClient } = await import('../../sdk/grpc/registry-client.js');
      const { background } = await import('../../sdk/core/context.js');
      const nsReg = newNsRegistryClient(`unix://${node1.nsmgrSocket}`); // nsmgr proxies the registry
      try {
        await nsReg.register(background(), {
          name: 'colors',
          payload: 'ETHERNET',
          pathIds: [],
          matches: ['blue', 'green'].map((c) => ({
            sourceSelector: { want: c },
            routes: [{ destinationSelector: { color: c }, weight: 0 }],
            fallthrough: false,
            metadata: undefined,
          })),
        });
      } finally {
        nsReg.close();
      }
      for (const c of ['blue', 'green']) {
        await sb.startEndpoint(await sb.addPod(sb.node('node2'), `nse-${c}`), {
          NSM_SERVICE_NAMES: 'colors',
          NSM_LABELS: `color=${c}`,
          NSM_CIDR_PREFIX: c === 'blue' ? '172.16.3.0/24' : '172.16.4.0/24',
        });
      }
      const pod = await sb.addPod(node1, 'nsc-colors');
      for (const c of ['green', 'blue', 'green']) {
        const conn = await request(
          node1,
          newConnection(`colors-${c}-${Date.now()}`, 'colors', { labels: { want: c } }),
          [kernelMechanism({ name: 'col', inodeURL: `file:///var/run/netns/${pod.netns}` })],
        );
        try {
          assert.equal(conn.networkServiceEndpointName, `nse-${c}`);
        } finally {
          await close(node1, conn);
        }
      }
      assert.deepEqual(await sb.podLinks(), []);
      assert.deepEqual(await sb.nodeLinks(), []);
    });
  });
});
