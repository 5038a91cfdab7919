// 1. Setup latency: sequential Request → Connection (the interface configured in the pod's
// namespace: the forwarder configures the kernel before it answers) and Close, on the local path
// (pod on node2, endpoint on node2: one veth pair) and the remote path (pod on node1: VXLAN).
// Every request comes from a fresh pod namespace, as a new pod would (nothing warm in it), like the
// CNI baseline; the namespaces are made in one batch beforehand and removed afterwards.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import type { SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import type { BenchContext, PathLatency } from '../context.js';
import { SERVICE } from '../mesh.js';
import { deleteNetns } from '../netns.js';
import { summarize } from '../stats.js';

const WARMUP = 5;

async function measurePath(ctx: BenchContext, node: SandboxNode, tag: string): Promise<PathLatency> {
  const mesh = ctx.mesh!;
  const pods = await mesh.pods(node, `lat${tag}`, ctx.opts.n + WARMUP);
  try {
    return await measureIn(ctx, node, tag, pods);
  } finally {
    await deleteNetns(pods);
  }
}

async function measureIn(
  ctx: BenchContext,
  node: SandboxNode,
  tag: string,
  pods: readonly string[],
): Promise<PathLatency> {
  const mesh = ctx.mesh!;
  const client = mesh.client(node);
  const setup: number[] = [];
  const close: number[] = [];
  let failures = 0;
  let verifyProblem: string | undefined = 'not checked';
  let verified = 0;
  for (let i = -WARMUP; i < ctx.opts.n; i++) {
    const netns = pods[i + WARMUP];
    let conn: Connection;
    try {
      const r = await client.request({ id: mesh.nextId(`lat-${tag}`), netns, service: SERVICE });
      conn = r.value;
      if (i >= 0) setup.push(r.ms);
    } catch (e) {
      failures++;
      if (failures <= 3) ctx.errors.push(`latency ${tag}: request failed: ${(e as Error).message}`);
      continue;
    }
    // Check a sample (first, middle, last): the interface exists with the connection's address.
    if (i === 0 || i === Math.floor(ctx.opts.n / 2) || i === ctx.opts.n - 1) {
      const problem = await mesh.verify(netns, conn);
      if (problem) verifyProblem = problem;
      else {
        verified++;
        if (verifyProblem === 'not checked') verifyProblem = undefined;
      }
    }
    try {
      const ms = await client.close(conn);
      if (i >= 0) close.push(ms);
    } catch (e) {
      failures++;
      if (failures <= 3) ctx.errors.push(`latency ${tag}: close failed: ${(e as Error).message}`);
    }
  }
  return { setup: summarize(setup), close: summarize(close), failures, verifyProblem, verified };
}

export async function runLatency(ctx: BenchContext): Promise<void> {
  const mesh = ctx.mesh!;
  ctx.data.latency = {};
  ctx.log(`latency: ${ctx.opts.n} sequential requests + closes on the local path (node2 → node2)`);
  ctx.data.latency.local = await measurePath(ctx, mesh.node2, 'local');
  ctx.log(`  local setup p50 ${ctx.data.latency.local.setup.p50.toFixed(1)} ms`);
  ctx.log(`latency: ${ctx.opts.n} sequential requests + closes on the remote path (node1 → node2, VXLAN)`);
  ctx.data.latency.remote = await measurePath(ctx, mesh.node1, 'remote');
  ctx.log(`  remote setup p50 ${ctx.data.latency.remote.setup.p50.toFixed(1)} ms`);
}
