// 4. Data plane: the same traffic through four paths, interleaved round by round so drift hits all
// of them alike:
//   local     pod on node2 → endpoint on node2 over the mesh's veth pair
//   rawVeth   two fresh namespaces joined by a veth pair made by hand (same MTU)
//   remote    pod on node1 → endpoint on node2 over the mesh's VXLAN netdevs
//   rawVxlan  two fresh namespaces, each with a VXLAN netdev made by hand in node1 / node2 (same
//             underlay, port, MTU) and moved in
// TCP throughput: iperf3, one stream, `iperfSeconds` (first second omitted); the figure is the
// median of the rounds. RTT: UDP echo round trips by the bench helper (Node on both ends, so the
// absolute µs include Node; compare ratios), in alternating rounds.
import type { BenchContext, DataplaneData, Rtt } from '../context.js';
import { hostOf, SERVICE } from '../mesh.js';
import { addNetns } from '../netns.js';
import { Background, helper, helperRun, run, runOk } from '../proc.js';
import { median, sleep } from '../stats.js';

type PathName = 'local' | 'rawVeth' | 'remote' | 'rawVxlan';

export interface PathEnds {
  clientNs: string;
  serverNs: string;
  serverIP: string;
}

const RAW_VNI = 16_777_001;
const RTT_PORT = 7007;
const RTT_ROUNDS = 5;
let nextPort = 5301; // the chain part's firewall allows 5300-5999

async function linkMtu(netns: string, ifname: string): Promise<number> {
  const [l] = JSON.parse(await runOk('ip', ['-n', netns, '-json', 'link', 'show', 'dev', ifname])) as {
    mtu: number;
  }[];
  return l.mtu;
}

async function ipIn(netns: string, lines: string[]): Promise<void> {
  await runOk('ip', ['-n', netns, '-batch', '-'], { input: `${lines.join('\n')}\n` });
}

export async function iperf(p: PathEnds, seconds: number): Promise<{ gbps: number; retransmits: number }> {
  const port = String(nextPort++);
  const server = Background.start('ip', [
    'netns',
    'exec',
    p.serverNs,
    'iperf3',
    '-s',
    '-1',
    '-B',
    p.serverIP,
    '-p',
    port,
  ]);
  try {
    for (let attempt = 0; ; attempt++) {
      await sleep(attempt === 0 ? 200 : 250);
      const r = await run(
        'ip',
        [
          'netns',
          'exec',
          p.clientNs,
          'iperf3',
          '-c',
          p.serverIP,
          '-p',
          port,
          '-t',
          String(seconds + 1),
          '-O',
          '1',
          '-J',
        ],
        { timeoutMs: (seconds + 30) * 1000 },
      );
      let out: {
        error?: string;
        end?: { sum_received?: { bits_per_second: number }; sum_sent?: { retransmits?: number } };
      };
      try {
        out = JSON.parse(r.stdout);
      } catch {
        throw new Error(`iperf3 to ${p.serverIP}: ${r.stderr.trim() || r.stdout.trim()}`);
      }
      if (out.error) {
        if (/connect/i.test(out.error) && attempt < 10) continue;
        throw new Error(`iperf3 to ${p.serverIP}: ${out.error}`);
      }
      return {
        gbps: (out.end?.sum_received?.bits_per_second ?? Number.NaN) / 1e9,
        retransmits: out.end?.sum_sent?.retransmits ?? 0,
      };
    }
  } finally {
    await server.stop();
  }
}

interface RoundRtt {
  p50Us: number;
  p90Us: number;
  p99Us: number;
  lost: number;
}

async function rttRound(p: PathEnds, count: number): Promise<RoundRtt> {
  const r = await helperRun(p.clientNs, ['rtt', p.serverIP, String(RTT_PORT), String(count)]);
  if (r.code !== 0) throw new Error(`rtt to ${p.serverIP}: ${r.stderr.trim()}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as RoundRtt;
}

/**
 * Round trips on every path, in RTT_ROUNDS short rounds that alternate between the paths: on a
 * small VM one run's p50 swings 2-3x with what else is running, so each figure is the median of
 * the rounds' percentiles.
 */
async function rttAll(paths: Record<PathName, PathEnds>, order: PathName[], count: number) {
  const servers = order.map((k) => helper(paths[k].serverNs, ['echo', paths[k].serverIP, String(RTT_PORT)]));
  try {
    await Promise.all(servers.map((s) => s.waitFor((l) => l === 'ready', 10_000, 'echo server')));
    const rounds = Object.fromEntries(order.map((k) => [k, [] as RoundRtt[]])) as Record<
      PathName,
      RoundRtt[]
    >;
    for (let i = 0; i < RTT_ROUNDS; i++) {
      for (const k of order) rounds[k].push(await rttRound(paths[k], Math.ceil(count / RTT_ROUNDS)));
    }
    return Object.fromEntries(
      order.map((k) => {
        const rs = rounds[k];
        const rtt: Rtt = {
          p50Us: median(rs.map((r) => r.p50Us)),
          p90Us: median(rs.map((r) => r.p90Us)),
          p99Us: median(rs.map((r) => r.p99Us)),
          lost: rs.reduce((a, r) => a + r.lost, 0),
          rounds: rs.map(({ p50Us, p90Us, p99Us }) => ({ p50Us, p90Us, p99Us })),
        };
        return [k, rtt];
      }),
    ) as Record<PathName, Rtt>;
  } finally {
    await Promise.all(servers.map((s) => s.stop()));
  }
}

export async function runDataplane(ctx: BenchContext): Promise<void> {
  const mesh = ctx.mesh!;
  const { sb } = mesh;
  const paths = {} as Record<PathName, PathEnds>;

  // The mesh's connections.
  const [localNs] = await mesh.pods(mesh.node2, 'dplocal', 1);
  const [remoteNs] = await mesh.pods(mesh.node1, 'dpremote', 1);
  const local = (
    await mesh.client(mesh.node2).request({ id: mesh.nextId('dp'), netns: localNs, service: SERVICE })
  ).value;
  const remote = (
    await mesh.client(mesh.node1).request({ id: mesh.nextId('dp'), netns: remoteNs, service: SERVICE })
  ).value;
  for (const [name, ns, conn] of [
    ['local', localNs, local],
    ['remote', remoteNs, remote],
  ] as const) {
    const problem = await mesh.verify(ns, conn);
    if (problem) throw new Error(`${name} connection: ${problem}`);
    paths[name] = {
      clientNs: ns,
      serverNs: mesh.endpointOf(conn).netns,
      serverIP: hostOf(conn.context?.ipContext?.dstIpAddrs[0]),
    };
  }
  const mtu = { local: await linkMtu(localNs, 'nsm-1'), remote: await linkMtu(remoteNs, 'nsm-1') };

  // The raw baselines, by hand, with the same MTUs.
  const rv = [`${sb.id}-rawveth-a`, `${sb.id}-rawveth-b`];
  const rx = [`${sb.id}-rawvxlan-a`, `${sb.id}-rawvxlan-b`];
  await addNetns([...rv, ...rx]);
  await runOk('ip', [
    'link',
    'add',
    'name',
    'rv0',
    'netns',
    rv[0],
    'type',
    'veth',
    'peer',
    'name',
    'rv1',
    'netns',
    rv[1],
  ]);
  await ipIn(rv[0], [`link set rv0 mtu ${mtu.local} up`, 'addr add 192.168.241.1/24 dev rv0']);
  await ipIn(rv[1], [`link set rv1 mtu ${mtu.local} up`, 'addr add 192.168.241.2/24 dev rv1']);
  paths.rawVeth = { clientNs: rv[0], serverNs: rv[1], serverIP: '192.168.241.2' };
  const [n1, n2] = [mesh.node1, mesh.node2];
  for (const [node, peer, ns, ip] of [
    [n1, n2, rx[0], '192.168.242.1/24'],
    [n2, n1, rx[1], '192.168.242.2/24'],
  ] as const) {
    await ipIn(node.netns, [
      `link add name rvx0 mtu ${mtu.remote} type vxlan id ${RAW_VNI} local ${node.ip} remote ${peer.ip} dstport 4789`,
      `link set rvx0 netns ${ns}`,
    ]);
    await ipIn(ns, ['link set rvx0 up', `addr add ${ip} dev rvx0`]);
  }
  paths.rawVxlan = { clientNs: rx[0], serverNs: rx[1], serverIP: '192.168.242.2' };

  const order: PathName[] = ['rawVeth', 'local', 'rawVxlan', 'remote'];
  const data: DataplaneData = {
    mtu,
    throughput: {
      local: { gbps: [], retransmits: [] },
      rawVeth: { gbps: [], retransmits: [] },
      remote: { gbps: [], retransmits: [] },
      rawVxlan: { gbps: [], retransmits: [] },
    },
    rtt: {} as DataplaneData['rtt'],
  };
  for (let round = 1; round <= ctx.opts.dataplaneRounds; round++) {
    for (const k of order) {
      const r = await iperf(paths[k], ctx.opts.iperfSeconds);
      data.throughput[k].gbps.push(r.gbps);
      data.throughput[k].retransmits.push(r.retransmits);
      ctx.log(`dataplane: round ${round} ${k}: ${r.gbps.toFixed(2)} Gbit/s`);
    }
  }
  data.rtt = await rttAll(paths, order, ctx.opts.rttCount);
  for (const k of order)
    ctx.log(`dataplane: ${k} RTT p50 ${data.rtt[k].p50Us.toFixed(0)} µs (median of ${RTT_ROUNDS} rounds)`);
  ctx.data.dataplane = data;
  await mesh
    .client(mesh.node2)
    .close(local)
    .catch((e: unknown) => ctx.errors.push(`dataplane close: ${e}`));
  await mesh
    .client(mesh.node1)
    .close(remote)
    .catch((e: unknown) => ctx.errors.push(`dataplane close: ${e}`));
}
