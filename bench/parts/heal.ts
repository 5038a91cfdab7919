// 5. Heal. Both scenarios use the product's own client (examples/nsc, a real process), so that
// whatever healing the client, nsmgr and forwarder gain later is what gets measured here.
//
// Endpoint death: two endpoints serve "bench-heal"; a client connects to one; a helper in the
// client's pod knocks on the peer address of nsm-1 every 20 ms. The chosen endpoint is killed
// (kill -9) and its pod namespace deleted, as when a pod dies (the veth pair goes with it). Figure:
// time from the kill until the peer behind nsm-1 answers again (a reselected endpoint), or "no
// recovery" after `healWaitS`.
//
// Forwarder kill -9: a UDP stream (one datagram per ms, echoed by the endpoint's pod) runs over a
// local and then a remote connection; the forwarder on the client's node is killed with SIGKILL,
// restarted 3 s later, and the stream runs 3 s more (with the nodeagent layout the process killed
// and restarted holds the nsmgr too). Figure: datagrams lost, per phase.
import type { Connection } from '../../api/gen/networkservice/connection.js';
import type { Daemon, Pod, SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import { links } from '../../sdk/tools/sandbox/shell.js';
import type { BenchContext, HealData, StreamPhase } from '../context.js';
import { hostOf, SERVICE } from '../mesh.js';
import { deleteNetns } from '../netns.js';
import { type Background, helper } from '../proc.js';
import { sleep } from '../stats.js';

const HEAL_SERVICE = 'bench-heal';
const DOWN_MS = 3000;
const AFTER_MS = 3000;
const STREAM_INTERVAL_MS = 1;

interface ReachEvent {
  t: number;
  reachable: boolean;
  peer: string | null;
}

function reachEvents(b: Background): ReachEvent[] {
  return b.lines.filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as ReachEvent);
}

async function endpointDeath(ctx: BenchContext, data: HealData): Promise<void> {
  const mesh = ctx.mesh!;
  const { sb } = mesh;
  await mesh.startEndpoint('heal-1', HEAL_SERVICE, '10.120.0.0/16');
  await mesh.startEndpoint('heal-2', HEAL_SERVICE, '10.121.0.0/16');
  const pod = await sb.addPod(mesh.node2, 'healc');
  const { daemon: nsc, connections } = await sb.startClient(pod, `kernel://${HEAL_SERVICE}/nsm-1`);
  const watcher = helper(pod.netns, ['reach', 'nsm-1']);
  try {
    await watcher.waitFor(
      (l) => l.includes('"reachable":true'),
      5000,
      'the peer behind nsm-1 before the kill',
    );
    const victim = connections[0].networkServiceEndpointName;
    const victimPod = mesh.endpointPods.get(victim);
    const victimDaemon = mesh.endpointDaemons.get(victim);
    if (!victimPod || !victimDaemon) throw new Error(`unknown endpoint ${victim}`);
    ctx.log(
      `heal: killing endpoint ${victim} (kill -9, pod namespace deleted); waiting ${ctx.opts.healWaitS} s`,
    );
    const killedAt = Date.now();
    victimDaemon.kill('SIGKILL');
    await deleteNetns([victimPod.netns]);
    const deadline = killedAt + ctx.opts.healWaitS * 1000;
    let back: ReachEvent | undefined;
    while (Date.now() < deadline) {
      await sleep(50);
      const evs = reachEvents(watcher).filter((e) => e.t >= killedAt);
      const down = evs.findIndex((e) => !e.reachable);
      if (down >= 0) back = evs.slice(down).find((e) => e.reachable);
      if (back) break;
    }
    const events = reachEvents(watcher);
    data.endpointDeath = {
      restored: back !== undefined,
      restoredAfterMs: back ? back.t - killedAt : undefined,
      waitedMs: back ? back.t - killedAt : Date.now() - killedAt,
      events,
      note: back
        ? `restored to ${back.peer}`
        : 'not implemented / no recovery: nothing re-requested the connection; the pod has no working nsm-1',
    };
    ctx.log(`  ${back ? `restored after ${back.t - killedAt} ms` : 'no recovery'}`);
  } finally {
    await watcher.stop();
    await nsc.stop();
  }
}

async function forwarderKill(
  ctx: BenchContext,
  data: HealData,
  path: 'local' | 'remote',
  node: SandboxNode,
  port: number,
): Promise<void> {
  const mesh = ctx.mesh!;
  const { sb } = mesh;
  const pod: Pod = await sb.addPod(node, `fk${path}`);
  const { daemon: nsc, connections } = await sb.startClient(pod, `kernel://${SERVICE}/nsm-1`);
  const conn: Connection = connections[0];
  const serverNs = mesh.endpointOf(conn).netns;
  const serverIP = hostOf(conn.context?.ipContext?.dstIpAddrs[0]);
  const echo = helper(serverNs, ['echo', serverIP, String(port)]);
  let stream: Background | undefined;
  try {
    await echo.waitFor((l) => l === 'ready', 10_000, 'echo server');
    stream = helper(pod.netns, ['stream', serverIP, String(port), String(STREAM_INTERVAL_MS)]);
    await sleep(1000);
    stream.write('mark forwarder dead');
    // With the nodeagent layout the forwarder's process is the nsmgr's too: both die and restart.
    const killed = sb.nodeagent ? 'nodeagent' : 'forwarder';
    ctx.log(
      `heal: kill -9 ${killed} on ${node.name} under a ${path} UDP stream; restart after ${DOWN_MS} ms`,
    );
    const old: Daemon | undefined = node.forwarder;
    old?.kill('SIGKILL');
    await old?.exited();
    await sleep(DOWN_MS);
    stream.write('mark forwarder restarting');
    await sb.startForwarder(node);
    stream.write('mark after restart');
    await sleep(AFTER_MS);
    stream.write('stop');
    const line = await stream.waitFor((l) => l.startsWith('{'), 5000, 'stream result');
    const r = JSON.parse(line) as { phases: StreamPhase[]; maxGapMs: number; intervalMs: number };
    const phases = r.phases.map((p) => (p.label === 'start' ? { ...p, label: 'before' } : p));
    const kept = (await links(pod.netns).catch(() => [])).some((l) => l.ifname === 'nsm-1');
    const lost = phases.reduce((a, p) => a + p.lost, 0);
    data.forwarderKill.push({
      path,
      node: node.name,
      killed,
      downMs: DOWN_MS,
      intervalMs: r.intervalMs,
      phases,
      lost,
      maxGapMs: r.maxGapMs,
      interfaceAfterRestart: kept,
      note: `${kept ? 'nsm-1 still in the pod' : 'nsm-1 gone from the pod'} after the restart`,
    });
    ctx.log(
      `  ${lost} datagrams lost; longest gap ${r.maxGapMs} ms; ${kept ? 'interface kept' : 'interface gone'}`,
    );
  } finally {
    await stream?.stop();
    await echo.stop();
    await nsc.stop();
  }
}

export async function runHeal(ctx: BenchContext): Promise<void> {
  const mesh = ctx.mesh!;
  const data: HealData = { forwarderKill: [] };
  ctx.data.heal = data;
  try {
    await endpointDeath(ctx, data);
  } catch (e) {
    ctx.errors.push(`heal (endpoint death): ${(e as Error).message}`);
  }
  try {
    await forwarderKill(ctx, data, 'local', mesh.node2, 7101);
  } catch (e) {
    ctx.errors.push(`heal (forwarder kill, local): ${(e as Error).message}`);
  }
  try {
    await forwarderKill(ctx, data, 'remote', mesh.node1, 7102);
  } catch (e) {
    ctx.errors.push(`heal (forwarder kill, remote): ${(e as Error).message}`);
  }
}
