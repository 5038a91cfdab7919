// `status`: each component's PID, memory and liveness, each node's readiness, and the pods.
import * as fs from 'node:fs';
import { kubectl } from './clients.js';
import { type ClusterState, CONTROL_PLANE, NODE_COMPONENTS, owned, readState } from './state.js';

/** Proportional set size in KiB (shared pages split between their users). */
function pssKib(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export interface ComponentStatus {
  name: string;
  node?: string;
  pid?: number;
  pssMib: number;
}

export interface Status {
  state: ClusterState;
  components: ComponentStatus[];
  readyNodes: string[];
  /** Every component runs and every node is Ready. */
  healthy: boolean;
}

export async function status(dir: string): Promise<Status | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  const one = (name: string, recorded: number | undefined, node?: string): ComponentStatus => {
    const pid = owned(state.dir, recorded);
    return { name, node, pid, pssMib: pid ? Math.round(pssKib(pid) / 1024) : 0 };
  };
  const withoutProxy = process.env.NSM_K8S_KUBE_PROXY === '0';
  const components = [
    ...CONTROL_PLANE.map((c) => one(c, state.pids[c])),
    ...state.nodes.flatMap((n) =>
      NODE_COMPONENTS.filter((c) => !(c === 'kube-proxy' && withoutProxy && !n.pids[c])).map((c) =>
        one(c, n.pids[c], n.name),
      ),
    ),
  ];
  const r = await kubectl(dir, [
    'get',
    'nodes',
    '-o',
    'jsonpath={range .items[*]}{.metadata.name} {.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}',
  ]);
  const readyNodes = r.stdout
    .split('\n')
    .map((l) => l.split(' '))
    .filter(([, ready]) => ready === 'True')
    .map(([name]) => name);
  const healthy = components.every((c) => c.pid) && state.nodes.every((n) => readyNodes.includes(n.name));
  return { state, components, readyNodes, healthy };
}

export async function printStatus(dir: string): Promise<boolean> {
  const st = await status(dir);
  if (!st) {
    process.stdout.write(`no cluster in ${dir}\n`);
    return false;
  }
  const lines = st.components.map((c) => {
    const name = c.node ? `${c.name}@${c.node}` : c.name;
    const what = c.pid ? `pid ${String(c.pid).padEnd(8)} ${String(c.pssMib).padStart(5)} MiB` : 'not running';
    return `${name.padEnd(32)} ${what}`;
  });
  for (const n of st.state.nodes) {
    const where = n.netns ? ` in netns ${n.netns}` : '';
    const ready = st.readyNodes.includes(n.name) ? 'Ready' : 'NOT Ready';
    lines.push(`${`node ${n.name}`.padEnd(32)} ${n.ip}${where}, pods ${n.podCidr}: ${ready}`);
  }
  lines.push(`${'kubeconfig'.padEnd(32)} ${dir}/kubeconfig`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const pods = await kubectl(dir, ['get', 'pods', '-A', '-o', 'wide']);
  if (pods.code === 0) process.stdout.write(pods.stdout);
  return st.healthy;
}
