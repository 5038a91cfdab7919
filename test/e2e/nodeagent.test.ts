// End-to-end: the nodeagent layout (nsmgr and forwarder of a node in one process) with the real
// registry, endpoints and clients: the same connections, path and cleanup as the two-process
// layout, and a kill -9 of a node's one process that the clients heal from after its restart.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { monitorSnapshot } from '../../nsmctl/mesh.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { eventually } from '../../sdk/testing/eventually.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';

/** Which clients' connections a forwarder holds, asked over its own socket (as nsmctl does). */
async function heldBy(forwarderSocket: string): Promise<string[]> {
  const pool = new ClientPool();
  try {
    const conns = await monitorSnapshot(pool, `unix://${forwarderSocket}`, 5_000);
    return conns.map((c) => c.path?.pathSegments[0]?.name ?? '?').sort();
  } finally {
    await pool.close();
  }
}

describe('nodeagent layout (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let nsePod: Pod;
  const clients: Record<string, { pod: Pod; daemon: Daemon; conn: Connection }> = {};

  before(async () => {
    sb = await Sandbox.create({ nodes: 2, nodeagent: true });
    nsePod = await sb.addPod(sb.node('node2'), 'nse-a');
    await sb.startEndpoint(nsePod, { NSM_SERVICE_NAMES: 'icmp', NSM_CIDR_PREFIX: '172.16.21.0/24' });
    for (const [kind, node] of [
      ['local', 'node2'],
      ['remote', 'node1'],
    ] as const) {
      const pod = await sb.addPod(sb.node(node), `nsc-${kind}`);
      const { daemon, connections } = await sb.startClient(pod, 'kernel://icmp/nsm-1');
      clients[kind] = { pod, daemon, conn: connections[0] };
    }
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('runs one process per node that serves both the nsmgr and the forwarder socket', () => {
    for (const node of sb.nodes) {
      assert.ok(node.nsmgr?.running, `${node.name}: nodeagent running`);
      assert.equal(node.nsmgr, node.forwarder, `${node.name}: one process`);
      assert.match(node.nsmgr.name, /^nodeagent-/);
      assert.ok(existsSync(node.nsmgrSocket), `${node.name}: nsmgr socket`);
      assert.ok(existsSync(node.forwarderSocket), `${node.name}: forwarder socket`);
    }
    assert.equal(sb.daemons.filter((d) => /^(nsmgr|forwarder)-/.test(d.name)).length, 0);
  });

  for (const kind of ['local', 'remote']) {
    it(`carries TCP and UDP both ways over a ${kind} connection`, async () => {
      const { pod, conn } = clients[kind];
      const ip = conn.context!.ipContext!;
      await assertTraffic(sb, pod, nsePod, hostIP(ip.dstIpAddrs[0]), 7101);
      await assertTraffic(sb, nsePod, pod, hostIP(ip.srcIpAddrs[0]), 7102);
    });
  }

  it('records the same path as two processes would, the forwarder under its own name', () => {
    assert.deepEqual(
      clients.remote.conn.path!.pathSegments.map((s) => s.name),
      ['nsc-remote', 'nsmgr-node1', 'forwarder-node1', 'nsmgr-node2', 'forwarder-node2', 'nse-a'],
    );
    assert.ok(clients.remote.conn.path!.pathSegments.every((s) => s.expires && s.token));
  });

  it('serves the forwarder inside on its own socket: it holds both clients’ connections', async () => {
    assert.deepEqual(await heldBy(sb.node('node2').forwarderSocket), ['nsc-local', 'nsc-remote']);
    assert.deepEqual(await heldBy(sb.node('node1').forwarderSocket), ['nsc-remote']);
  });

  it('heals both connections after a kill -9 and restart of the endpoint node’s nodeagent', async () => {
    const node2 = sb.node('node2');
    node2.nsmgr!.kill('SIGKILL');
    await node2.nsmgr!.exited();
    await sb.startNodeagent(node2);
    // The new process knows the connections only when the clients' heal requests reach it.
    await eventually(
      async () => assert.deepEqual(await heldBy(node2.forwarderSocket), ['nsc-local', 'nsc-remote']),
      45_000,
    );
    for (const [kind, port] of [
      ['local', 7103],
      ['remote', 7104],
    ] as const) {
      const { pod, conn } = clients[kind];
      const dst = hostIP(conn.context!.ipContext!.dstIpAddrs[0]);
      await assertTraffic(sb, pod, nsePod, dst, port);
    }
  });

  it('removes every interface on both nodes when the clients stop', async () => {
    for (const { daemon } of Object.values(clients)) await daemon.stop();
    await eventually(async () => assert.deepEqual(await sb.podLinks(), []), 10_000);
    assert.deepEqual(await sb.nodeLinks(), []);
  });
});
