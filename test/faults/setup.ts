import type { Daemon, Pod, Sandbox, SandboxNode } from '../../sdk/tools/sandbox/sandbox.js';
import type { Cell } from './cells.js';
import { closeSandbox, ECHO_PORT, openSandbox, SERVICE } from './common.js';
import { addedLinks, type KernelLink, type KernelState, sandboxState } from './kernel.js';

export type { Cell } from './cells.js';
export { matrix } from './cells.js';
export { closeOpenSandboxes } from './common.js';

export interface Setup {
  sb: Sandbox;
  clientPod: Pod;
  nsePods: Pod[];
  nseDaemons: Map<string, Daemon>;
  echo: Map<string, Daemon>;
  sparePod: Pod;
  baseline: KernelState;
}

export async function setUp(cell: Pick<Cell, 'kind'>, env: Record<string, string>): Promise<Setup> {
  const sb = await openSandbox(env);
  try {
    const node2 = sb.node('node2');
    const nsePods: Pod[] = [];
    const nseDaemons = new Map<string, Daemon>();
    const echo = new Map<string, Daemon>();
    for (const [name, cidr] of [
      ['nse-a', '172.16.1.0/24'],
      ['nse-b', '172.16.2.0/24'],
    ]) {
      const pod = await sb.addPod(node2, name);
      nsePods.push(pod);
      nseDaemons.set(
        name,
        await sb.startEndpoint(pod, { NSM_SERVICE_NAMES: SERVICE, NSM_CIDR_PREFIX: cidr }),
      );
      echo.set(name, await sb.echoServer(pod.netns, '0.0.0.0', ECHO_PORT));
    }
    const clientNode = sb.node(cell.kind === 'local' ? 'node2' : 'node1');
    const clientPod = await sb.addPod(clientNode, 'nsc');
    const sparePod = await sb.addPod(clientNode, 'spare');
    const baseline = await sandboxState(sb);
    return { sb, clientPod, nsePods, nseDaemons, echo, sparePod, baseline };
  } catch (e) {
    await closeSandbox(sb);
    throw e;
  }
}

/** The node whose daemon the fault hits. */
export function faultNode(sb: Sandbox, cell: Cell): SandboxNode {
  if (cell.kind === 'local') return sb.node('node2');
  return sb.node(cell.side === 'client' ? 'node1' : 'node2');
}

/** The connection's interfaces: extra links in the client pod and in the endpoint pods. */
export function connectionLinks(
  s: Setup,
  now: KernelState,
): { client: KernelLink[]; endpoint: KernelLink[]; others: KernelLink[] } {
  const extra = addedLinks(s.baseline, now);
  const nseNs = new Set(s.nsePods.map((p) => p.netns));
  return {
    client: extra.filter((l) => l.netns === s.clientPod.netns),
    endpoint: extra.filter((l) => nseNs.has(l.netns)),
    others: extra.filter((l) => l.netns !== s.clientPod.netns && !nseNs.has(l.netns)),
  };
}

export function podOf(s: Setup, netns: string): string {
  return s.sb.pods.find((p) => p.netns === netns)?.name ?? netns;
}
