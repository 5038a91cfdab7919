// End-to-end: an icmp-responder with upstream's policy-based-routing file; its client's namespace
// gets one rule and table per policy (traffic the rule matches leaves by the connection, traffic it
// does not by the main table), and nothing of it is left once the client is gone. The IPv6 case sends
// real packets: the destination lives both behind the connection (in the endpoint's namespace) and
// behind a second interface of the client's pod (the main table's path), and each answers with its
// name, so the answer says which interface the packet left by.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { TAGGED_ECHO_SCRIPT } from '../../sdk/kernel/testing.js';
import { eventually } from '../../sdk/testing/eventually.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

describe('policy routes (e2e)', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let nse: Pod;
  let nse6: Pod;

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
    const pbr6 = join(sb.runDir, 'pbr6.yaml');
    writeFileSync(
      pbr6,
      '- proto: udp\n  dstport: 6666\n  routes:\n    - prefix: "fd77::/64"\n      nexthop: "fd09::"\n',
    );
    nse6 = await sb.addPod(sb.node('node1'), 'nse6');
    await sb.startEndpoint(nse6, {
      NSM_SERVICE_NAMES: 'pbr6',
      NSM_CIDR_PREFIX: 'fd09::/120',
      NSM_PBR_CONFIG_PATH: pbr6,
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

  it('sends the IPv6 traffic the rule selects out by the connection, and other traffic by the main table', async () => {
    const node = sb.node('node1');
    const pod = await sb.addPod(node, 'nsc6');
    const lan = await sb.addPod(node, 'lan6'); // the pod's own network, behind eth9
    const ip = (netns: string, ...args: string[]) => sh('ip', ['-6', '-n', netns, ...args]);
    await sh('ip', [
      '-n',
      pod.netns,
      'link',
      'add',
      'eth9',
      'type',
      'veth',
      'peer',
      'name',
      'eth9',
      'netns',
      lan.netns,
    ]);
    await ip(pod.netns, 'addr', 'add', 'fd78::1/64', 'dev', 'eth9', 'nodad');
    await ip(lan.netns, 'addr', 'add', 'fd78::2/64', 'dev', 'eth9', 'nodad');
    await ip(pod.netns, 'link', 'set', 'eth9', 'up');
    await ip(lan.netns, 'link', 'set', 'eth9', 'up');
    await ip(pod.netns, 'route', 'add', 'fd77::/64', 'via', 'fd78::2', 'dev', 'eth9');
    // fd77::5 lives in both: the endpoint's namespace and the pod's network.
    await ip(nse6.netns, 'addr', 'add', 'fd77::5/128', 'dev', 'lo');
    await ip(lan.netns, 'addr', 'add', 'fd77::5/128', 'dev', 'lo');
    const script = join(sb.runDir, 'tagged-echo.cjs');
    writeFileSync(script, TAGGED_ECHO_SCRIPT);
    const servers = await Promise.all(
      [[nse6, 'endpoint'] as const, [lan, 'main'] as const].map(([p, tag]) =>
        sb.spawn(
          `echo6-${tag}`,
          p.netns,
          script,
          { ECHO_TAG: tag, ECHO_DEST: 'fd77::5', ECHO_PORTS: '6666,6667' },
          (l) => l === 'ready',
        ),
      ),
    );
    const { daemon, connections } = await sb.startClient(pod, 'kernel://pbr6/nsm-1');
    try {
      assert.equal(hostIP(connections[0].context!.ipContext!.dstIpAddrs[0]), 'fd09::');
      assert.match(
        await sh('ip', ['-6', '-n', pod.netns, 'rule', 'show']),
        /ipproto udp dport 6666 lookup \d+/,
      );
      const send = (proto: string, port: number, msg: string) =>
        sb.probe(pod.netns, [proto, 'fd77::5', String(port), msg]).then(
          (r) => r.trim(),
          (e: Error) => e.message,
        );
      assert.equal(await send('udp', 6666, 'steered'), 'endpoint:steered', 'udp 6666: the rule, via nsm-1');
      assert.equal(await send('udp', 6667, 'port'), 'main:port', 'udp 6667: no rule, via eth9');
      assert.equal(await send('tcp', 6666, 'proto'), 'main:proto', 'tcp 6666: no rule, via eth9');
    } finally {
      await daemon.stop();
    }
    // The client's Close removed the rule: the same flow now goes by the main table.
    await eventually(async () => {
      assert.equal((await sb.probe(pod.netns, ['udp', 'fd77::5', '6666', 'closed'])).trim(), 'main:closed');
    }, 10_000);
    await Promise.all(servers.map((s) => s.stop()));
  });
});
