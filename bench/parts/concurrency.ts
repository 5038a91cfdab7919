// 2. Concurrency: N requests fired at once, each from its own pod namespace on node2 (local
// path), through one gRPC channel to node2's nsmgr. Connections per second = successful setups ÷
// wall time from the first call to the last answer; p99 over the individual request latencies.
// Then all N are closed at once (closes per second, for the record), and what failed requests left
// behind is counted: links in the endpoint namespaces and nsm-1 in the pods whose request failed.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import type { BenchContext, ConcurrencyRound } from '../context.js';
import { SERVICE } from '../mesh.js';
import { sleep, summarize } from '../stats.js';

/** Time for requests that failed on the client side to finish (or give up) in the daemons. */
const SETTLE_MS = 3000;

export async function runConcurrency(ctx: BenchContext): Promise<void> {
  const mesh = ctx.mesh!;
  const client = mesh.client(mesh.node2);
  const max = Math.max(...ctx.opts.concurrency);
  const pods = await mesh.pods(mesh.node2, 'conc', max);
  ctx.data.concurrency = [];
  for (const n of ctx.opts.concurrency) {
    ctx.log(`concurrency: ${n} requests at once from ${n} pods (local path)`);
    const linksBefore = await mesh.endpointLinkCount();
    const started = performance.now();
    const results = await Promise.allSettled(
      pods
        .slice(0, n)
        .map((netns) => client.request({ id: mesh.nextId(`conc${n}`), netns, service: SERVICE })),
    );
    const wallMs = performance.now() - started;
    const conns: Connection[] = [];
    const ms: number[] = [];
    const failedPods: string[] = [];
    let failures = 0;
    for (const [i, r] of results.entries()) {
      if (r.status === 'fulfilled') {
        conns.push(r.value.value);
        ms.push(r.value.ms);
      } else {
        failures++;
        failedPods.push(pods[i]);
        if (failures <= 3) ctx.errors.push(`concurrency ${n}: ${(r.reason as Error).message}`);
      }
    }
    const closeStarted = performance.now();
    const closed = await Promise.allSettled(conns.map((c) => client.close(c)));
    const closeWallMs = performance.now() - closeStarted;
    const closeFailures = closed.filter((r) => r.status === 'rejected').length;
    if (closeFailures) ctx.errors.push(`concurrency ${n}: ${closeFailures} closes failed`);
    // What requests that failed (e.g. hit their deadline) left behind once everything settled.
    await sleep(SETTLE_MS);
    const leftoverEndpointLinks = (await mesh.endpointLinkCount()) - linksBefore;
    let leftoverClientLinks = 0;
    for (const netns of failedPods) {
      if ((await links(netns).catch(() => [])).some((l) => l.ifname === 'nsm-1')) leftoverClientLinks++;
    }
    const round: ConcurrencyRound = {
      concurrent: n,
      ok: conns.length,
      failures,
      wallMs,
      perSecond: conns.length / (wallMs / 1000),
      setup: summarize(ms),
      closeWallMs,
      closePerSecond: (conns.length - closeFailures) / (closeWallMs / 1000),
      leftoverEndpointLinks,
      leftoverClientLinks,
    };
    ctx.data.concurrency.push(round);
    ctx.log(
      `  ${round.ok}/${n} in ${(wallMs / 1000).toFixed(2)} s: ${round.perSecond.toFixed(0)}/s, p99 ${round.setup.p99.toFixed(0)} ms; closed in ${(closeWallMs / 1000).toFixed(2)} s`,
    );
  }
}
