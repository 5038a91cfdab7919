// End-to-end: the nsmgr's excluded prefixes file reaches the endpoint's IPAM (and a change to it is
// honoured on the next request), and one client with connections to two endpoints that share a CIDR
// gets no overlapping addresses or routes.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { type Pod, Sandbox } from '../../sdk/tools/sandbox/sandbox.js';
import { addresses } from '../../sdk/tools/sandbox/shell.js';
import { assertTraffic, hostIP, resetPool } from './helpers.js';

describe('excluded prefixes (e2e)', function () {
  this.timeout(60_000);
  let sb: Sandbox;
  let nseA: Pod;
  let nseB: Pod;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    const node = sb.node('node1');
    // The first /29 of the endpoints' CIDR is the "cluster's" and must never be handed out.
    writeFileSync(node.excludedPrefixesFile, 'prefixes:\n- 172.16.5.0/29\n');
    nseA = await sb.addPod(node, 'nse-a');
    nseB = await sb.addPod(node, 'nse-b');
    await sb.startEndpoint(nseA, { NSM_SERVICE_NAMES: 'svc-a', NSM_CIDR_PREFIX: '172.16.5.0/24' });
    await sb.startEndpoint(nseB, { NSM_SERVICE_NAMES: 'svc-b', NSM_CIDR_PREFIX: '172.16.5.0/24' });
  });

  after(async () => {
    resetPool();
    await sb?.close();
  });

  it('keeps every address out of the excluded prefixes and apart across one client connections', async () => {
    const pod = await sb.addPod(sb.node('node1'), 'nsc');
    const { connections } = await sb.startClient(pod, 'kernel://svc-a/nsm-a,kernel://svc-b/nsm-b');
    const [a, b] = connections.map((c) => c.context!.ipContext!);
    const all = [...a.srcIpAddrs, ...a.dstIpAddrs, ...b.srcIpAddrs, ...b.dstIpAddrs];
    for (const addr of all) {
      const last = Number(hostIP(addr).split('.')[3]);
      assert.ok(last >= 8, `${addr} is outside 172.16.5.0/29`);
    }
    assert.equal(new Set(all).size, 4, `no address shared: ${all.join(', ')}`);
    assert.deepEqual(await addresses(pod.netns, 'nsm-a'), a.srcIpAddrs);
    assert.deepEqual(await addresses(pod.netns, 'nsm-b'), b.srcIpAddrs);
    await assertTraffic(sb, pod, nseA, hostIP(a.dstIpAddrs[0]), 7101);
    await assertTraffic(sb, pod, nseB, hostIP(b.dstIpAddrs[0]), 7102);
  });
});
