// End-to-end: ETHERNET payload through a passthrough CNF, its two interfaces joined at L2 by a
// bridge or by a tc mirred redirect pair (NSM_L2_JOIN), client and responder on node1, CNF on node2.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Pod, Sandbox, SCRIPTS } from '../../sdk/tools/sandbox/sandbox.js';
import { links, sh } from '../../sdk/tools/sandbox/shell.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';

const serviceYaml = (name: string) => `spec:
  name: ${name}
  payload: ETHERNET
  matches:
    - source_selector: {app: ${name}-cnf}
      routes: [{destination_selector: {app: l2-responder}}]
    - routes: [{destination_selector: {app: ${name}-cnf}}]
`;

describe('ETHERNET through a passthrough CNF (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let responder: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 2, logDir: process.env.NSM_TEST_LOG_DIR });
    const file = join(sb.runDir, 'l2.yaml');
    writeFileSync(file, `${serviceYaml('l2-bridge')}---\n${serviceYaml('l2-mirred')}`);
    await sb.apply([file]);
    responder = await sb.addPod(sb.node('node1'), 'l2-resp');
    await sb.startEndpoint(responder, {
      NSM_SERVICE_NAMES: 'l2-bridge,l2-mirred',
      NSM_LABELS: 'app=l2-responder',
      NSM_CIDR_PREFIX: '172.16.8.0/24',
      NSM_REGISTER_SERVICE: 'false',
    });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  for (const join of ['bridge', 'mirred'] as const) {
    it(`carries TCP and UDP both ways with a ${join} join, and leaves nothing after Close`, async () => {
      const service = `l2-${join}`;
      const cnf = await sb.addPod(sb.node('node2'), `${join}-cnf`);
      const daemon = await sb.startCnf(cnf, SCRIPTS.passthrough, {
        NSM_SERVICE_NAMES: service,
        NSM_LABELS: `app=${service}-cnf`,
        NSM_L2_JOIN: join,
      });
      const client = await sb.addPod(sb.node('node1'), `${join}-nsc`);
      const { daemon: nsc, connections } = await sb.startClient(client, `kernel://${service}/nsm-1`);
      const ip = connections[0].context!.ipContext!;
      assert.equal(connections[0].payload, 'ETHERNET');
      await assertTraffic(sb, client, responder, hostIP(ip.dstIpAddrs[0]), 7301);
      await assertTraffic(sb, responder, client, hostIP(ip.srcIpAddrs[0]), 7302);
      const cnfLinks = (await links(cnf.netns)).filter((l) => l.ifname !== 'lo');
      if (join === 'bridge') {
        assert.ok(
          cnfLinks.some((l) => l.linkinfo?.info_kind === 'bridge'),
          'a bridge in the CNF',
        );
      } else {
        const filters = await sh('ip', [
          'netns',
          'exec',
          cnf.netns,
          'tc',
          'filter',
          'show',
          'dev',
          cnfLinks[0].ifname,
          'ingress',
        ]);
        assert.match(filters, /mirred \(Egress Redirect to device/);
      }
      const forwarding = await sh('ip', ['netns', 'exec', cnf.netns, 'cat', '/proc/sys/net/ipv4/ip_forward']);
      assert.equal(forwarding.trim(), '0', 'no IP forwarding for an L2 join');
      await nsc.stop();
      for (let i = 0; i < 100 && (await links(cnf.netns)).some((l) => l.ifname !== 'lo'); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(
        (await links(cnf.netns)).filter((l) => l.ifname !== 'lo').map((l) => l.ifname),
        [],
        'interfaces and bridge gone',
      );
      await daemon.stop();
    });
  }
});
