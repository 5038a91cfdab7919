// 7. CNF chaining (issue 11). In the bench's sandbox, next to the other parts' endpoints:
//  - 4-hop setup: the chain of sdk/tools/sandbox/chain.ts (client on node1 → firewall (node2) →
//    passthrough-1 (node1) → passthrough-2 (node2) → responder (node1), VXLAN on every hop);
//    sequential Request → Connection from fresh pod namespaces, as the latency part does.
//  - TCP throughput (iperf3, one stream) on node1 only (veth pairs, so the CNF's forwarding is what
//    differs): direct client → endpoint; through one passthrough; through the firewall with 10 rules
//    (9 that do not match iperf, then the one that allows it), all in the same run; and ETHERNET
//    payload through a passthrough joined by a bridge and by a tc mirred pair (NSM_L2_JOIN).
//  - Heal: a real client (examples/nsc, liveness check on) through the chain; the passthrough-1 it
//    uses is killed with -9; the figure is the time until its traffic passes through the replica
//    (the replica has its two interfaces and a helper in the client pod, knocking on the peer every
//    20 ms, sees it answer).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { hops, startChain } from '../../sdk/tools/sandbox/chain.js';
import { SCRIPTS } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import type { BenchContext, ChainData } from '../context.js';
import { hostOf } from '../mesh.js';
import { deleteNetns } from '../netns.js';
import { helper } from '../proc.js';
import { sleep, summarize } from '../stats.js';
import { iperf } from './dataplane.js';

const WARMUP = 3;
const MAX_SAMPLES = 30;
const HEAL_WAIT_MS = 30_000;

const THROUGHPUT_YAML = `spec:
  name: tp-direct
  payload: IP
---
spec:
  name: tp-passthrough
  payload: IP
  matches:
    - source_selector: {app: tp-pt}
      routes: [{destination_selector: {app: tp-resp}}]
    - routes: [{destination_selector: {app: tp-pt}}]
---
spec:
  name: tp-firewall
  payload: IP
  matches:
    - source_selector: {app: tp-fw}
      routes: [{destination_selector: {app: tp-resp}}]
    - routes: [{destination_selector: {app: tp-fw}}]
`;

const l2Yaml = (join: string) => `---
spec:
  name: tp-l2-${join}
  payload: ETHERNET
  matches:
    - source_selector: {app: tp-${join}}
      routes: [{destination_selector: {app: tp-resp}}]
    - routes: [{destination_selector: {app: tp-${join}}}]
`;

/** Ten rules: nine that iperf's packets pass over, then the one that allows them. */
const TEN_RULES = `default: deny
rules:
${Array.from({ length: 9 }, (_, i) => `  - {name: deny-${i}, action: deny, proto: tcp, port: ${6000 + i}, source: 10.${i}.0.0/16}`).join('\n')}
  - {name: iperf, action: allow, proto: tcp, port: "5300-5999"}
`;

async function setupLatency(ctx: BenchContext, data: ChainData): Promise<void> {
  const mesh = ctx.mesh!;
  const node = mesh.sb.node('node1');
  const n = Math.min(ctx.opts.n, MAX_SAMPLES);
  const pods = await mesh.pods(node, 'chain', n + WARMUP);
  const client = mesh.client(node);
  const setup: number[] = [];
  try {
    for (let i = -WARMUP; i < n; i++) {
      let conn: Connection;
      try {
        const r = await client.request({
          id: mesh.nextId('chain'),
          netns: pods[i + WARMUP],
          service: 'secure',
        });
        conn = r.value;
        if (i >= 0) setup.push(r.ms);
        if (i === 0) data.hops = hops(conn).slice(1).join(' → ');
      } catch (e) {
        data.failures++;
        if (data.failures <= 3) ctx.errors.push(`chain setup: ${(e as Error).message}`);
        continue;
      }
      await client.close(conn).catch(() => undefined);
    }
  } finally {
    await deleteNetns(pods);
  }
  data.setup = summarize(setup);
}

async function throughput(ctx: BenchContext, data: ChainData): Promise<void> {
  const mesh = ctx.mesh!;
  const { sb } = mesh;
  const n1 = sb.node('node1');
  const file = join(sb.runDir, 'throughput.yaml');
  writeFileSync(file, `${THROUGHPUT_YAML}${l2Yaml('bridge')}${l2Yaml('mirred')}`);
  const rules = join(sb.runDir, 'tp-rules.yaml');
  writeFileSync(rules, TEN_RULES);
  await sb.apply([file]);
  const resp = await sb.addPod(n1, 'tp-resp');
  await sb.startEndpoint(resp, {
    NSM_SERVICE_NAMES: 'tp-direct,tp-passthrough,tp-firewall,tp-l2-bridge,tp-l2-mirred',
    NSM_LABELS: 'app=tp-resp',
    NSM_PAYLOAD: 'IP',
    NSM_CIDR_PREFIX: '172.16.9.0/24',
    NSM_REGISTER_SERVICE: 'false',
  });
  const pt = await sb.addPod(n1, 'tp-pt');
  await sb.startCnf(pt, SCRIPTS.passthrough, {
    NSM_SERVICE_NAMES: 'tp-passthrough',
    NSM_LABELS: 'app=tp-pt',
  });
  const fw = await sb.addPod(n1, 'tp-fw');
  await sb.startCnf(fw, SCRIPTS.firewall, {
    NSM_SERVICE_NAMES: 'tp-firewall',
    NSM_LABELS: 'app=tp-fw',
    NSM_FIREWALL_RULES: rules,
  });
  for (const join of ['bridge', 'mirred']) {
    const pod = await sb.addPod(n1, `tp-${join}`);
    await sb.startCnf(pod, SCRIPTS.passthrough, {
      NSM_SERVICE_NAMES: `tp-l2-${join}`,
      NSM_LABELS: `app=tp-${join}`,
      NSM_L2_JOIN: join,
    });
  }
  const client = mesh.client(n1);
  const pods = await mesh.pods(n1, 'tpc', 5);
  try {
    const kinds = ['direct', 'passthrough', 'firewall', 'l2-bridge', 'l2-mirred'] as const;
    const conns: Connection[] = [];
    for (const [i, kind] of kinds.entries()) {
      const r = await client.request({
        id: mesh.nextId(`tp-${kind}`),
        netns: pods[i],
        service: `tp-${kind}`,
      });
      conns.push(r.value);
    }
    await sleep(500); // the CNFs join their interfaces once the forwarder made them
    for (let round = 0; round < ctx.opts.dataplaneRounds; round++) {
      for (const [i, kind] of kinds.entries()) {
        const r = await iperf(
          {
            clientNs: pods[i],
            serverNs: resp.netns,
            serverIP: hostOf(conns[i].context?.ipContext?.dstIpAddrs[0]),
          },
          ctx.opts.iperfSeconds,
        );
        data.throughputGbps[kind].push(r.gbps);
      }
    }
    for (const c of conns) await client.close(c).catch(() => undefined);
  } finally {
    await deleteNetns(pods);
  }
}

async function heal(
  ctx: BenchContext,
  data: ChainData,
  chain: Awaited<ReturnType<typeof startChain>>,
): Promise<void> {
  const { sb } = ctx.mesh!;
  const pod = await sb.addPod(sb.node('node1'), 'chain-nsc');
  const { daemon, connections } = await sb.startClient(pod, 'kernel://secure/nsm-1');
  // Reachability from inside the pod, knocked every 20 ms by one long-lived helper: a probe process
  // per check (ip netns exec + node, ~100-250 ms each) made the figure as coarse as the probe.
  const watcher = helper(pod.netns, ['reach', 'nsm-1']);
  try {
    const used = hops(connections[0])[2] === 'passthrough-1' ? chain.p1 : chain.p1b;
    const other = used === chain.p1 ? chain.p1b : chain.p1;
    await watcher.waitFor((l) => l.includes('"reachable":true'), 5_000, 'the chain client reaching its peer');
    chain.daemons.get(used.name)!.kill('SIGKILL');
    const killed = Date.now();
    let replicaAt: number | undefined;
    while (Date.now() - killed < HEAL_WAIT_MS) {
      if (
        replicaAt === undefined &&
        (await links(other.netns)).filter((l) => l.ifname !== 'lo').length === 2
      ) {
        replicaAt = Date.now();
      }
      const events = watcher.lines.map((l) => JSON.parse(l) as { t: number; reachable: boolean });
      const last = events.at(-1);
      if (replicaAt !== undefined && last?.reachable) {
        // Traffic passes again: since it came back after the heal broke it, or (never broken) since
        // the replica carries the chain.
        const broke = events.some((e) => e.t >= killed && !e.reachable);
        data.healMs = (broke ? Math.max(last.t, replicaAt) : replicaAt) - killed;
        return;
      }
      await sleep(20);
    }
    data.healNote = `no traffic through ${other.name} within ${HEAL_WAIT_MS} ms`;
  } finally {
    await watcher.stop();
    await daemon.stop();
  }
}

export async function runChain(ctx: BenchContext): Promise<void> {
  const data: ChainData = {
    failures: 0,
    throughputGbps: { direct: [], passthrough: [], firewall: [], 'l2-bridge': [], 'l2-mirred': [] },
  };
  ctx.data.chain = data;
  ctx.log('chain: firewall → passthrough-1 (two replicas) → passthrough-2 → responder across both nodes ...');
  const chain = await startChain(ctx.mesh!.sb);
  await setupLatency(ctx, data);
  ctx.log(`  4-hop setup p50 ${data.setup?.p50.toFixed(1)} ms (n=${data.setup?.n}), ${data.hops}`);
  await throughput(ctx, data);
  const med = (xs: number[]) => summarize(xs).p50.toFixed(2);
  ctx.log(
    `  TCP Gbit/s direct ${med(data.throughputGbps.direct)}, one passthrough ${med(data.throughputGbps.passthrough)}, firewall (10 rules) ${med(data.throughputGbps.firewall)}; ETHERNET bridge ${med(data.throughputGbps['l2-bridge'])}, mirred ${med(data.throughputGbps['l2-mirred'])}`,
  );
  await heal(ctx, data, chain);
  ctx.log(`  heal after kill -9 of passthrough-1: ${data.healMs ?? data.healNote} ms`);
}
