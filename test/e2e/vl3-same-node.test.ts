// End-to-end: same-node-first for vL3 members through the NetworkService of
// examples/vl3/networkservice.yaml (a nodeName match with fallthrough, then any replica). One replica
// per node, each registered with its nodeName label; members carry theirs (NODE_NAME, clientinfo):
// every member gets the replica on its own node; once node2's replica left, a new member on node2
// falls through to node1's replica, and reaches the members there.
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { hostIP, resetPool } from './helpers.js';

/** The example file itself (this test runs from dist/test/e2e). */
const NETWORK_SERVICE = join(
  dirname(fileURLToPath(import.meta.url)),
  '..',
  '..',
  '..',
  'examples',
  'vl3',
  'networkservice.yaml',
);
const SERVICE = 'my-vl3';
const PREFIX = '172.19.0.0/16';
const PORT = 7330;

describe('vL3 same node first (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  const replicas = new Map<string, Daemon>();
  const members: { pod: Pod; conn: Connection }[] = [];

  const joinMember = async (node: string, name: string) => {
    const pod = await sb.addPod(sb.node(node), name);
    const { connections } = await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`, { NODE_NAME: node });
    return { pod, conn: connections[0] };
  };

  before(async () => {
    sb = await Sandbox.create({ nodes: 2, logDir: process.env.NSM_TEST_LOG_DIR });
    await sb.apply([NETWORK_SERVICE]);
    await sb.startVl3Ipam(sb.node('node1'), { NSM_PREFIX: PREFIX, NSM_SLICE_PREFIX_LENGTH: '24' });
    for (const node of ['node1', 'node2']) {
      const pod = await sb.addPod(sb.node(node), `vl3-${node}`);
      const daemon = await sb.startVl3(pod, {
        NSM_SERVICE_NAMES: SERVICE,
        NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(sb.node('node1')),
        NSM_VL3_PREFIX: PREFIX,
        NSM_LABELS: `nodeName=${node}`,
      });
      replicas.set(pod.name, daemon);
    }
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('gives every member the replica on its own node', async () => {
    for (const node of ['node1', 'node2', 'node1', 'node2']) {
      members.push(await joinMember(node, `sn${members.length}-${node}`));
    }
    for (const m of members) {
      assert.equal(m.conn.networkServiceEndpointName, `vl3-${m.pod.node.name}`, m.pod.name);
    }
  });

  it("falls through to another node's replica when its node has none", async () => {
    await replicas.get('vl3-node2')!.stop(); // graceful: it unregisters
    const late = await joinMember('node2', 'sn-late');
    assert.equal(late.conn.networkServiceEndpointName, 'vl3-node1');
    const peer = members.find((m) => m.conn.networkServiceEndpointName === 'vl3-node1')!;
    const ip = hostIP(peer.conn.context!.ipContext!.srcIpAddrs[0]);
    const echo = await sb.echoServer(peer.pod.netns, ip, PORT);
    try {
      assert.equal((await sb.probe(late.pod.netns, ['udp', ip, String(PORT), 'x'])).trim(), 'x');
    } finally {
      await echo.stop();
    }
  });
});
