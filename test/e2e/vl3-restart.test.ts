// End-to-end: a vL3 replica killed (kill -9) and started again under live connections. It gets its
// slice back from vl3-ipam, reserves the addresses its members hold (found on its interfaces), and
// every member keeps its address through its next refresh; a member that joins right after the
// restart gets an address nobody holds. Members: NSM_TEST_VL3_MEMBERS (default 50).
import assert from 'node:assert/strict';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { eventually } from '../../sdk/testing/eventually.js';
import type { Daemon } from '../../sdk/tools/sandbox/daemon.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses } from '../../sdk/tools/sandbox/shell.js';
import { resetPool } from './helpers.js';

const SERVICE = 'vl3-restart';
const MEMBERS = Number(process.env.NSM_TEST_VL3_MEMBERS ?? 50);
/** Members refresh about every third of this. */
const TOKEN_LIFETIME = '15s';
const TOKEN_LIFETIME_MS = 15_000;

describe('vL3 replica restart under live connections (e2e)', function () {
  this.timeout(600_000);
  let sb: Sandbox;
  let replicaPod: Pod;
  let replica: Daemon;
  const env = () => ({
    NSM_SERVICE_NAMES: SERVICE,
    NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(sb.node('node1')),
    NSM_VL3_PREFIX: '172.18.0.0/16',
    NSM_DNS_PORT: '0',
    NSM_MAX_TOKEN_LIFETIME: TOKEN_LIFETIME,
  });
  const members: { pod: Pod; conn: Connection }[] = [];

  before(async () => {
    sb = await Sandbox.create({ nodes: 1, logDir: process.env.NSM_TEST_LOG_DIR });
    const node = sb.node('node1');
    await sb.startVl3Ipam(node, { NSM_PREFIX: '172.18.0.0/16', NSM_SLICE_PREFIX_LENGTH: '24' });
    replicaPod = await sb.addPod(node, 'vl3-a');
    replica = await sb.startVl3(replicaPod, env());
    for (let i = 0; i < MEMBERS; i++) {
      const pod = await sb.addPod(node, `m${i}`);
      const { connections } = await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`, {
        NSM_MAX_TOKEN_LIFETIME: TOKEN_LIFETIME,
        NSM_LIVENESS_CHECK_ENABLED: 'false',
      });
      members.push({ pod, conn: connections[0] });
    }
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it(`keeps all ${MEMBERS} addresses and shares none with a newcomer`, async () => {
    const before = members.map((m) => m.conn.context!.ipContext!.srcIpAddrs[0]);
    assert.equal(new Set(before).size, MEMBERS);
    replica.kill('SIGKILL');
    await replica.exited();
    replica = await sb.startVl3(replicaPod, env());
    // Members heal (the replica's death reached them as DOWN) or refresh into the new process.
    await new Promise((r) => setTimeout(r, TOKEN_LIFETIME_MS));
    await eventually(async () => {
      const now = await Promise.all(members.map(async (m) => (await addresses(m.pod.netns, 'nsm-1'))[0]));
      assert.deepEqual(now, before, 'no member address changed');
    }, 30_000);
    // A member joining now gets none of them (the window while they are only reserved is unit-tested).
    const newcomer = await sb.addPod(sb.node('node1'), 'late');
    const { connections } = await sb.startClient(newcomer, `kernel://${SERVICE}/nsm-1`);
    const lateAddr = connections[0].context!.ipContext!.srcIpAddrs[0];
    assert.ok(!before.includes(lateAddr), `the newcomer got ${lateAddr}, which a member holds`);
  });
});
