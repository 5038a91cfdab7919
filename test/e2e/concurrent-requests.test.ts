// Many Requests at once through one nsmgr and kernel forwarder (issue 15, "200 at once must not
// fail and must not leak"): 100 local Requests from 100 pods at once all succeed, each pod gets its
// interface, and closing them leaves the kernel as it was. Then Requests whose callers give up at
// every point of the set-up (deadlines spread from 1 ms to the length of a whole set-up) leave
// nothing behind once the dust settles: whatever a request had made in the kernel is undone by the
// hop that made it (a census of every sandbox namespace, before and after).
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
const CANCELLED = 40;
const SERVICE = 'conc';

describe('many requests at once (e2e)', function () {
  this.timeout(300_000);
  let sb: Sandbox;
  let node: SandboxNode;
  let pods: Pod[];
  let baseline: KernelState;
  const pool = new ClientPool();
  const url = () => `unix://${node.nsmgrSocket}`;

  // As a real client sends it: its own path segment, so the nsmgr gives the connection an id of
  // its own, which a caller that gave up never learns (its Close carries only its segment).
  const asClient = (id: string) =>
    newConnection(id, SERVICE, {
      path: {
        index: 0,
        pathSegments: [{ name: 'test-client', id, token: '', expires: undefined, metrics: {} }],
      },
    });
  const requestFrom = async (pod: Pod, id: string, timeoutMs: number) => {
    const { ctx, cancel } = withTimeout(background(), timeoutMs);
    try {
      return await pool.request(ctx, url(), {
        connection: asClient(id),
        mechanismPreferences: [
          kernelMechanism({ name: 'nsm-1', inodeURL: `file:///var/run/netns/${pod.netns}` }),
        ],
      });
    } finally {
      cancel();
    }
  };
  const closeId = async (id: string) => {
    const { ctx, cancel } = withTimeout(background(), 60_000);
    try {
      await pool.closeConnection(ctx, url(), asClient(id));
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
    for (let i = 0; i < AT_ONCE + CANCELLED; i++) pods.push(await sb.addPod(node, `p${i}`));
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

  it(`leaves nothing of ${CANCELLED} requests whose callers give up during the set-up`, async () => {
    // Deadlines from 1 ms up to about one set-up under this burst: some requests are refused before
    // they reach the forwarder, some in its queue, some during the kernel work, some just after.
    const cancelled = pods.slice(AT_ONCE);
    const outcomes = await Promise.allSettled(
      cancelled.map((pod, i) => requestFrom(pod, `gone-${i}`, 1 + i * 25)),
    );
    const gaveUp = outcomes.filter((o) => o.status === 'rejected').length;
    assert.ok(gaveUp > 0, 'some callers gave up');
    // A caller that gives up closes what it asked for (an answer may have been on its way when its
    // deadline passed, which no hop can take back); those that succeeded are closed too.
    await Promise.all(cancelled.map((_, i) => closeId(`gone-${i}`).catch(() => {})));
    assert.deepEqual(await leftoversAfter(sb, baseline, 15_000), []);
  });
});
