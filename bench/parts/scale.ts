// 3. Scale: fill node2 with `scale` live local connections (one pod namespace each, `parallel`
// requests in flight), measure `extra` more sequential setups on top, then close everything.
// nsmgr, forwarder and registry are sampled (RSS, CPU) at idle, at full scale and after closing all.
// Before any of that, with only `scaleFew` pods on the node, `extra` sequential request → close
// cycles give the "few pods" setup latency that the one at full scale is compared with (the cost
// of entering a pod must not grow with the number of pods); they run again after the node was
// emptied, and the baseline is both together. They also run once with all the pods made and no
// connection live, which isolates the cost of many pods from that of many live connections. Throughout the part nsmgr + forwarder
// RSS is sampled every 500 ms (min/median/max), and VmHWM is read at the end.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import type { BenchContext, MemorySpread, NodeState, ScaleData } from '../context.js';
import { SERVICE } from '../mesh.js';
import { deleteNetns, nodeState } from '../netns.js';
import { sampleProc } from '../procstat.js';
import { settledSnapshot } from '../report.js';
import { mapLimit, median, sleep, summarize } from '../stats.js';
import { timeNsmctlGet } from './nsmctl-get.js';

const SAMPLE_EVERY_MS = 500;

/**
 * Samples nsmgr + forwarder VmRSS until stopped (one process with the nodeagent layout); the spread
 * and the VmHWM at the end.
 */
function sampleMemory(pids: {
  nsmgr?: number;
  forwarder?: number;
  nodeagent: boolean;
}): () => MemorySpread | undefined {
  const pairs: number[] = [];
  const read = () => {
    const n = pids.nsmgr === undefined ? undefined : sampleProc(pids.nsmgr);
    const f = pids.forwarder === undefined ? undefined : sampleProc(pids.forwarder);
    return { n, f, complete: n !== undefined && (pids.nodeagent || f !== undefined) };
  };
  const take = () => {
    const { n, f, complete } = read();
    if (complete) pairs.push(n!.rssMiB + (f?.rssMiB ?? 0));
  };
  take();
  const timer = setInterval(take, SAMPLE_EVERY_MS);
  timer.unref(); // a part that fails half-way must not keep the bench alive
  return () => {
    clearInterval(timer);
    take();
    const { n, f, complete } = read();
    if (!complete || pairs.length === 0) return undefined;
    return {
      samples: pairs.length,
      pairMinMiB: Math.min(...pairs),
      pairMedianMiB: median(pairs),
      pairMaxMiB: Math.max(...pairs),
      nsmgrHwmMiB: n!.peakMiB,
      forwarderHwmMiB: f?.peakMiB,
      pairHwmMiB: n!.peakMiB + (f?.peakMiB ?? 0),
    };
  };
}

const ATTEMPTS = 3;
/** Time the daemons get to settle (timers, GC) before idle, full and "after closing all" are sampled. */
const SETTLE_MS = 5000;

export async function runScale(ctx: BenchContext): Promise<void> {
  const mesh = ctx.mesh!;
  const { scale, scaleExtra, scaleParallel } = ctx.opts;
  const client = mesh.client(mesh.node2);
  const stopSampling = sampleMemory(mesh.daemonPids(mesh.node2));

  // Few pods: request → close cycles over `scaleFew` pods, before the node fills up (and again after
  // it is emptied, so that load drifting on a shared machine hits both sides of the ratio alike).
  const fewPhase = async (tag: string, label: string): Promise<{ ms: number[]; state: NodeState }> => {
    const fewPods = await mesh.pods(mesh.node2, `few${tag}`, ctx.opts.scaleFew);
    const state = nodeState();
    ctx.log(
      `scale: ${scaleExtra} sequential request → close cycles with ${ctx.opts.scaleFew} pods, ${label} (${state.namedNetns} named netns, ${state.mountEntries} mount entries)`,
    );
    const ms: number[] = [];
    for (let i = 0; i < scaleExtra; i++) {
      try {
        const r = await client.request({
          id: mesh.nextId('few'),
          netns: fewPods[i % fewPods.length],
          service: SERVICE,
        });
        ms.push(r.ms);
        await client.close(r.value);
      } catch (e) {
        ctx.errors.push(`scale (few pods, ${label}): ${(e as Error).message}`);
      }
    }
    await deleteNetns(fewPods);
    return { ms, state };
  };
  const fewBefore = await fewPhase('b', 'before');

  ctx.log(`scale: creating ${scale + scaleExtra} pod namespaces on node2`);
  const pods = await mesh.pods(mesh.node2, 'scale', scale + scaleExtra);
  await sleep(SETTLE_MS);
  const linksBefore = await mesh.endpointLinkCount();
  const snapshots = [await settledSnapshot(mesh, 'idle', 0)];
  // The same cycles with every pod made but no connection live: the cost of many pods alone (issue 15
  // item 1), apart from what 1000 live connections (their refreshes, their state) add below.
  const manyPods = await fewPhase('m', `with ${scale + scaleExtra} pods made`);

  let failures = 0;
  const request = async (netns: string): Promise<{ conn: Connection; ms: number } | undefined> => {
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      try {
        const r = await client.request({ id: mesh.nextId('scale'), netns, service: SERVICE });
        return { conn: r.value, ms: r.ms };
      } catch (e) {
        failures++;
        if (failures <= 3)
          ctx.errors.push(`scale: request failed (attempt ${attempt}): ${(e as Error).message}`);
      }
    }
    return undefined;
  };

  ctx.log(`scale: ${scale} requests, ${scaleParallel} in flight`);
  const fillStarted = performance.now();
  const filled = await mapLimit(pods.slice(0, scale), scaleParallel, request);
  const fillWallMs = performance.now() - fillStarted;
  const conns = filled.filter((x) => x !== undefined).map((x) => x.conn);
  ctx.log(`  ${conns.length} live after ${(fillWallMs / 1000).toFixed(1)} s`);
  await sleep(SETTLE_MS);
  snapshots.push(await settledSnapshot(mesh, 'at full scale', conns.length));
  ctx.log(`scale: nsmctl get connections against node2's nsmgr holding ${conns.length}`);
  const nsmctlGet = await timeNsmctlGet(`unix://${mesh.node2.nsmgrSocket}`, conns.length).catch(
    (e: Error) => {
      ctx.errors.push(`scale: nsmctl get connections failed: ${e.message}`);
      return undefined;
    },
  );

  const fullState = nodeState();
  ctx.log(
    `scale: ${scaleExtra} more, sequential, on top of ${conns.length} (${fullState.namedNetns} named netns, ${fullState.mountEntries} mount entries)`,
  );
  const extraMs: number[] = [];
  const failuresBefore = failures;
  for (const netns of pods.slice(scale)) {
    const r = await request(netns);
    if (r) {
      extraMs.push(r.ms);
      conns.push(r.conn);
    }
  }
  const extraFailures = failures - failuresBefore;
  snapshots.push(await settledSnapshot(mesh, `with ${scaleExtra} more`, conns.length));

  ctx.log(`scale: closing all ${conns.length}`);
  let closeFailures = 0;
  const closeStarted = performance.now();
  await mapLimit(conns, scaleParallel, async (c) => {
    try {
      await client.close(c);
    } catch (e) {
      closeFailures++;
      if (closeFailures <= 3) ctx.errors.push(`scale: close failed: ${(e as Error).message}`);
    }
  });
  const closeWallMs = performance.now() - closeStarted;
  await sleep(SETTLE_MS);
  snapshots.push(await settledSnapshot(mesh, 'after closing all', 0));

  const memory = stopSampling();
  const leftoverLinks = (await mesh.endpointLinkCount()) - linksBefore;
  await deleteNetns(pods);
  const fewAfter = await fewPhase('a', 'after');

  const data: ScaleData = {
    target: scale,
    few: {
      pods: ctx.opts.scaleFew,
      state: fewBefore.state,
      setup: summarize([...fewBefore.ms, ...fewAfter.ms]),
      before: summarize(fewBefore.ms),
      after: summarize(fewAfter.ms),
    },
    fullState,
    manyPods: { pods: pods.length, state: manyPods.state, setup: summarize(manyPods.ms) },
    memory,
    parallel: scaleParallel,
    live: filled.filter((x) => x !== undefined).length,
    failures: failuresBefore,
    fillWallMs,
    fillPerSecond: filled.filter((x) => x !== undefined).length / (fillWallMs / 1000),
    fill: summarize(filled.filter((x) => x !== undefined).map((x) => x.ms)),
    extra: summarize(extraMs),
    extraFailures,
    closeWallMs,
    closeFailures,
    snapshots,
    leftoverLinks,
    nsmctlGet,
  };
  ctx.data.scale = data;
  const pair = (i: number) => (snapshots[i].nsmgr?.rssMiB ?? 0) + (snapshots[i].forwarder?.rssMiB ?? 0);
  ctx.log(
    `  extra p50 ${data.extra.p50.toFixed(1)} ms p99 ${data.extra.p99.toFixed(1)} ms; nsmgr+forwarder RSS idle ${pair(0).toFixed(0)} MiB, full ${pair(1).toFixed(0)} MiB, after ${pair(3).toFixed(0)} MiB`,
  );
}
