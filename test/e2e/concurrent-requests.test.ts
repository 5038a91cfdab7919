// Many Requests at once through one nsmgr and kernel forwarder (issue 15, "200 at once must not
// fail and must not leak"): 100 local Requests from 100 pods at once all succeed, each pod gets its
// interface, and closing them leaves the kernel as it was (a census of every sandbox namespace,
// before and after). Not tested: a caller that gives up and closes while its Request is still being
// set up can leave the late success behind until its token expires (the Close finds nothing yet).
import assert from 'node:assert/strict';
import { setMaxListeners } from 'node:events';
import { background, withTimeout } from '../../sdk/core/context.js';
import { getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import type { Pod, Sandbox, SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { Sandbox as SandboxClass } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import { type KernelState, leftoversAfter, sandboxState } from '../faults/kernel.js';
import { kernelMechanism, newConnection, resetPool } from './helpers.js';

const AT_ONCE = Number(process.env.NSM_TEST_CONCURRENT_REQUESTS ?? 100);
const SERVICE = 'conc';

describe('many requests at once (e2e)', function () {
  this.timeout(300_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let pods: Pod[];
  let baseline: KernelState;
  const pool = new ClientPool();
  const url = () => `unix://${node.nsmgrSocket}`;

  const requestFrom = async (pod: Pod, id: string, timeoutMs: number) => {
    const { ctx, cancel } = withTimeout(background(), timeoutMs);
    try {
      return await pool.request(ctx, url(), {
        connection: newConnection(id, SERVICE),
        mechanismPreferences: [
          kernelMechanism({ name: 'nsm-1', inodeURL: `file:///var/run/netns/${pod.netns}` }),
        ],
      });
    } finally {
      cancel();
    }
  };

  before(async () => {
    sb = await SandboxClass.create({ nodes: 1 });
    node = sb.node('node1');
    // A /21: 1024 point-to-point pairs, so that one client (this test) may hold 512.
    await sb.startEndpoint(await sb.addPod(node, 'nse'), {
      NSM_SERVICE_NAMES: SERVICE,
      NSM_CIDR_PREFIX: '172.16.24.0/21',
    });
    pods = [];
    for (let i = 0; i < AT_ONCE; i++) pods.push(await sb.addPod(node, `p${i}`));
    baseline = await sandboxState(sb);
  });

  after(async () => {
    await pool.close();
    await sb?.close();
    resetPool();
  });

  it(`sets up ${AT_ONCE} requests from ${AT_ONCE} pods at once, and closing them leaves nothing`, async () => {
    const outcomes = await Promise.allSettled(
      pods.slice(0, AT_ONCE).map((pod, i) => requestFrom(pod, `conc-${i}`, 120_000)),
    );
    const failed = outcomes.flatMap((o) => (o.status === 'rejected' ? [getErrorMessage(o.reason)] : []));
    const conns = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    try {
      assert.deepEqual([...new Set(failed)], [], `${failed.length} of ${AT_ONCE} failed`);
      const without: string[] = [];
      for (const pod of pods.slice(0, AT_ONCE)) {
        if (!(await links(pod.netns)).some((l) => l.ifname === 'nsm-1')) without.push(pod.name);
      }
      assert.deepEqual(without, [], 'every pod has its interface');
    } finally {
      const { ctx, cancel } = withTimeout(background(), 120_000);
      setMaxListeners(AT_ONCE + 10, ctx.signal);
      await Promise.allSettled(conns.map((c) => pool.closeConnection(ctx, url(), c)));
      cancel();
    }
    assert.deepEqual(await leftoversAfter(sb, baseline, 10_000), []);
  });
});
