// End-to-end CNF chaining: one NetworkService file routes client → passthrough → icmp-responder
// across both nodes; traffic, the kernel state of every hop, Close and the census afterwards.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { startChainClient } from '../../sdk/tools/sandbox/chain.js';
import { type Pod, Sandbox, SCRIPTS } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses, sh } from '../../sdk/tools/sandbox/shell.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';

const ONE_HOP = `apiVersion: networkservicemesh.io/v1
kind: NetworkService
metadata: {name: chain}
spec:
  payload: IP
  matches:
    - source_selector: {app: passthrough-1}
      routes: [{destination_selector: {app: responder}}]
    - routes: [{destination_selector: {app: passthrough-1}}]
`;

describe('CNF chain through one passthrough (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let client: Pod;
  let p1: Pod;
  let responder: Pod;
  let conn: Connection;
  let nsc: Awaited<ReturnType<Sandbox['startClient']>>['daemon'];

  before(async () => {
    sb = await Sandbox.create({ nodes: 2 });
    const file = join(sb.runDir, 'chain.yaml');
    writeFileSync(file, ONE_HOP);
    assert.match(await sb.apply([file]), /networkservice\/chain applied \(2 matches\)/);
    responder = await sb.addPod(sb.node('node1'), 'responder');
    await sb.startEndpoint(responder, {
      NSM_SERVICE_NAMES: 'chain',
      NSM_LABELS: 'app=responder',
      NSM_PAYLOAD: 'IP',
      NSM_CIDR_PREFIX: '172.16.5.0/24',
    });
    p1 = await sb.addPod(sb.node('node2'), 'passthrough-1');
    await sb.startCnf(p1, SCRIPTS.passthrough, {
      NSM_SERVICE_NAMES: 'chain',
      NSM_LABELS: 'app=passthrough-1',
    });
    ({ pod: client, daemon: nsc, conn } = await startChainClient(sb, 'kernel://chain/nsm-1'));
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('routes the connection through the passthrough to the responder', () => {
    const names = conn.path!.pathSegments.map((s) => s.name);
    assert.deepEqual(names, [
      'nsc',
      'nsmgr-node1',
      'forwarder-node1',
      'nsmgr-node2',
      'forwarder-node2',
      'passthrough-1',
      'nsmgr-node2',
      'forwarder-node2',
      'nsmgr-node1',
      'forwarder-node1',
      'responder',
    ]);
  });

  it('carries TCP and UDP both ways, end to end', async () => {
    const ip = conn.context!.ipContext!;
    await assertTraffic(sb, client, responder, hostIP(ip.dstIpAddrs[0]), 7101);
    await assertTraffic(sb, responder, client, hostIP(ip.srcIpAddrs[0]), 7102);
  });

  it('keeps the client address context to the responder, and forwards in the CNF only', async () => {
    const ip = conn.context!.ipContext!;
    assert.deepEqual(await addresses(client.netns, 'nsm-1'), ip.srcIpAddrs);
    const forwarding = await sh('ip', ['netns', 'exec', p1.netns, 'cat', '/proc/sys/net/ipv4/ip_forward']);
    assert.equal(forwarding.trim(), '1');
    const local = await sh('ip', [
      '-n',
      p1.netns,
      'route',
      'show',
      'table',
      'local',
      hostIP(ip.dstIpAddrs[0]),
    ]);
    assert.doesNotMatch(local, /^local/, 'the CNF does not take the responder address for itself');
  });

  it('tears the whole chain down when the client closes, leaving no link behind', async () => {
    await nsc.stop();
    const deadline = Date.now() + 10_000;
    let left = await sb.podLinks();
    while (left.length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      left = await sb.podLinks();
    }
    assert.deepEqual(left, []);
    assert.deepEqual(await sb.nodeLinks(), []);
  });
});
