// End-to-end: excluded prefixes and a vL3 network. The nsmgr excludes a range inside the vL3 prefix
// (as a cluster's service CIDR might be): members get a route to the vL3 prefix split around it, so the
// excluded range stays with the pod's own network, and they still reach each other. One client asking
// twice for the same vL3 network (both connections would route the whole prefix) fails with
// FAILED_PRECONDITION naming the prefixes, and leaves no interface behind in its pod or the replica.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { links, sh } from '../../sdk/tools/sandbox/shell.js';
import { hostIP, resetPool } from './helpers.js';

const SERVICE = 'ex-vl3';
const PREFIX = '172.16.0.0/16';
const EXCLUDED = '172.16.128.0/17';
const PORT = 7310;

/** The interface `ip route get` picks for an address in the namespace ("" when there is no route). */
async function routeDev(netns: string, addr: string): Promise<string> {
  const out = await sh('ip', ['-n', netns, 'route', 'get', addr]).catch(() => '');
  return / dev (\S+)/.exec(out)?.[1] ?? '';
}

describe('excluded prefixes and vL3 (e2e)', function () {
  this.timeout(90_000);
  let sb: Sandbox;
  let replica: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const node = sb.node('node1');
    writeFileSync(node.excludedPrefixesFile, `prefixes:\n- ${EXCLUDED}\n`);
    await sb.startVl3Ipam(node, { NSM_PREFIX: PREFIX, NSM_SLICE_PREFIX_LENGTH: '24' });
    replica = await sb.addPod(node, 'vl3-ex');
    await sb.startVl3(replica, {
      NSM_SERVICE_NAMES: SERVICE,
      NSM_PREFIX_SERVER_URL: sb.vl3IpamURL(node),
      NSM_VL3_PREFIX: PREFIX,
    });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('splits the members route around the excluded prefix, and the members still reach each other', async () => {
    const members: { pod: Pod; conn: Connection }[] = [];
    for (const name of ['ex-a', 'ex-b']) {
      const pod = await sb.addPod(sb.node('node1'), name);
      const { connections } = await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`);
      members.push({ pod, conn: connections[0] });
    }
    for (const { pod, conn } of members) {
      const routes = conn.context!.ipContext!.srcRoutes.map((r) => r.prefix);
      assert.deepEqual(routes, ['172.16.0.0/17'], 'the vL3 prefix without 172.16.128.0/17');
      assert.equal(await routeDev(pod.netns, '172.16.1.9'), 'nsm-1');
      assert.notEqual(await routeDev(pod.netns, '172.16.200.9'), 'nsm-1', 'the excluded range is not ours');
    }
    const [a, b] = members;
    const ipB = hostIP(b.conn.context!.ipContext!.srcIpAddrs[0]);
    const echo = await sb.echoServer(b.pod.netns, ipB, PORT);
    try {
      assert.equal((await sb.probe(a.pod.netns, ['udp', ipB, String(PORT), 'hi'])).trim(), 'hi');
    } finally {
      await echo.stop();
    }
  });

  it('fails a second connection of one client to the same vL3 network with FAILED_PRECONDITION, leaving nothing', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'ex-twice');
    const replicaLinks = (await links(replica.netns)).length;
    await assert.rejects(
      sb.startClient(pod, `kernel://${SERVICE}/nsm-1,kernel://${SERVICE}/nsm-2`, {
        NSM_REQUEST_TIMEOUT: '3s', // the nsc retries until its request timeout; the failure is final
      }),
      (e: Error) =>
        /the vL3 prefix 172\.16\.0\.0\/16 lies inside the excluded prefixes .*172\.16\.0\.0\/17/.test(
          e.message,
        ),
    );
    assert.deepEqual(
      (await links(pod.netns)).map((l) => l.ifname).filter((n) => n !== 'lo'),
      [],
      'no interface left in the pod',
    );
    assert.equal((await links(replica.netns)).length, replicaLinks, 'no interface left in the replica');
  });
});
