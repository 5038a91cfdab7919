// 8. L7 gateway (issue 14). The gateway of sdk/tools/sandbox/l7.ts on node1 (HAProxy in its pod,
// two HTTP backends over its own mesh connections), and two ways to reach the same HAProxy:
//  - mesh: a client pod with a mesh connection to the gateway's service (what a user runs);
//  - veth: a pod joined to the gateway pod by a plain veth pair made by hand (the baseline).
// Rounds alternate between the two (so drift in the machine's load hits both alike): a sequential
// round (one request at a time, new connections: the p50 latency) and a throughput round
// (keep-alive, L7_CONCURRENCY in flight: requests per second). Figures: p50 added by the mesh
// (median over rounds of mesh p50 − veth p50) and the rps ratio (median mesh rps / median veth rps).
import { httpLoad, type L7Mesh, startL7 } from '../../sdk/tools/sandbox/l7.js';
import { ipBatch } from '../../sdk/tools/sandbox/shell.js';
import type { BenchContext, L7Data } from '../context.js';

const ROUNDS = 5;
const SEQUENTIAL_REQUESTS = 300;
const THROUGHPUT_MS = 3_000;
const L7_CONCURRENCY = 8;
const VETH_GATEWAY = '192.168.251.1';
const VETH_CLIENT = '192.168.251.2';

const ROUTES = `metadata: {name: bench}
spec:
  rules:
    - backendRefs: [{name: web-v1, port: 8080, weight: 50}, {name: web-v2, port: 8080, weight: 50}]
`;

async function vethBaseline(ctx: BenchContext, l7: L7Mesh) {
  const pod = await ctx.mesh!.sb.addPod(l7.gateway.node, 'l7-veth');
  await ipBatch(
    [
      `link add l7veth0 type veth peer name l7veth1 netns ${pod.netns}`,
      `addr add ${VETH_GATEWAY}/30 dev l7veth0`,
      'link set l7veth0 up',
    ],
    l7.gateway.netns,
  );
  await ipBatch([`addr add ${VETH_CLIENT}/30 dev l7veth1`, 'link set l7veth1 up'], pod.netns);
  return pod;
}

export async function runL7(ctx: BenchContext): Promise<void> {
  const data: L7Data = { p50Ms: { mesh: [], veth: [] }, rps: { mesh: [], veth: [] }, failed: 0 };
  ctx.data.l7 = data;
  ctx.log('l7: HTTP through the L7 gateway (HAProxy) over a mesh connection vs a plain veth ...');
  const l7 = await startL7(ctx.mesh!.sb, ROUTES, [{ service: 'web-v1' }, { service: 'web-v2' }]);
  const veth = await vethBaseline(ctx, l7);
  const ways = [
    { key: 'mesh', pod: l7.client, url: `http://${l7.gatewayIP}/` },
    { key: 'veth', pod: veth, url: `http://${VETH_GATEWAY}/` },
  ] as const;
  for (const w of ways) await httpLoad(w.pod, ['--url', w.url, '--count', '50']); // warm-up
  for (let round = 0; round < ROUNDS; round++) {
    for (const w of round % 2 ? [...ways].reverse() : ways) {
      const seq = await httpLoad(w.pod, ['--url', w.url, '--count', String(SEQUENTIAL_REQUESTS)]);
      const tp = await httpLoad(w.pod, [
        ...['--url', w.url, '--duration-ms', String(THROUGHPUT_MS)],
        ...['--concurrency', String(L7_CONCURRENCY), '--keepalive'],
      ]);
      data.p50Ms[w.key].push(seq.p50Ms);
      data.rps[w.key].push(tp.rps);
      data.failed += seq.failed + tp.failed + (seq.requests - (seq.statuses[200] ?? 0));
    }
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  ctx.log(
    `  p50 mesh ${med(data.p50Ms.mesh).toFixed(3)} ms, veth ${med(data.p50Ms.veth).toFixed(3)} ms; ` +
      `rps mesh ${med(data.rps.mesh).toFixed(0)}, veth ${med(data.rps.veth).toFixed(0)}; ${data.failed} failed`,
  );
}
