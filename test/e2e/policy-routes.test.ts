// End-to-end: an icmp-responder with upstream's policy-based-routing file; its client's namespace
// gets one rule and table per policy (traffic the rule matches leaves by the connection, traffic it
// does not by the main table), and nothing of it is left once the client is gone.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually } from '../../sdk/testing/eventually.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

describe('policy routes (e2e)', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let nse: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const pbr = join(sb.runDir, 'pbr.yaml');
    // UDP to port 6666 for 10.77.0.0/16 goes through the connection; everything else is untouched.
    writeFileSync(
      pbr,
      '- proto: udp\n  dstport: 6666\n  routes:\n    - prefix: 10.77.0.0/16\n      nexthop: 172.16.9.0\n',
    );
    nse = await sb.addPod(sb.node('node1'), 'nse');
    await sb.startEndpoint(nse, {
      NSM_SERVICE_NAMES: 'pbr',
      NSM_CIDR_PREFIX: '172.16.9.0/24',
      NSM_PBR_CONFIG_PATH: pbr,
    });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('steers only the matching traffic through the connection, and removes the rule with the client', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'nsc');
    const rulesBefore = await sh('ip', ['-n', pod.netns, 'rule', 'show']);
    const { daemon, connections } = await sb.startClient(pod, 'kernel://pbr/nsm-1');
    assert.equal(hostIP(connections[0].context!.ipContext!.dstIpAddrs[0]), '172.16.9.0');
    const rules = await sh('ip', ['-n', pod.netns, 'rule', 'show']);
    assert.match(rules, /ipproto udp dport 6666 lookup \d+/);
    // The kernel's choice for each kind of packet: `ip route get` with the rule's selectors.
    const via = async (dport: string) =>
      sh('ip', ['-n', pod.netns, 'route', 'get', '10.77.1.1', 'ipproto', 'udp', 'dport', dport]).catch(
        (e: Error) => e.message,
      );
    assert.match(await via('6666'), /via 172\.16\.9\.0 dev nsm-1/);
    assert.doesNotMatch(await via('7777'), /dev nsm-1/);
    await daemon.stop();
    await eventually(
      async () => assert.equal(await sh('ip', ['-n', pod.netns, 'rule', 'show']), rulesBefore),
      10_000,
    );
  });
});
