// `status`: each component's PID, memory and liveness, the node's readiness and the pods.
import * as fs from 'node:fs';
import { kubectl } from './clients.js';
import { type ClusterState, COMPONENTS, ownedPid, readState } from './state.js';

/** Proportional set size in KiB (shared pages split between their users). */
function pssKib(pid: number): number {
  try {
    return Number(/^Pss:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0;
  }
}

export interface Status {
  state: ClusterState;
  components: { name: string; pid?: number; pssMib: number }[];
  nodeReady: boolean;
}

export async function status(dir: string): Promise<Status | undefined> {
  const state = readState(dir);
  if (!state) return undefined;
  const components = COMPONENTS.map((name) => {
    const pid = ownedPid(state, name);
    return { name, pid, pssMib: pid ? Math.round(pssKib(pid) / 1024) : 0 };
  });
  const r = await kubectl(dir, [
    'get',
    'node',
    state.nodeName,
    '-o',
    'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
  ]);
  return { state, components, nodeReady: r.code === 0 && r.stdout.trim() === 'True' };
}

export async function printStatus(dir: string): Promise<boolean> {
  const st = await status(dir);
  if (!st) {
    process.stdout.write(`no cluster in ${dir}\n`);
    return false;
  }
  const lines = st.components.map((c) =>
    c.pid
      ? `${c.name.padEnd(24)} pid ${String(c.pid).padEnd(8)} ${String(c.pssMib).padStart(5)} MiB`
      : `${c.name.padEnd(24)} not running`,
  );
  lines.push(
    `${'node'.padEnd(24)} ${st.state.nodeName} (${st.state.nodeIp}) ${st.nodeReady ? 'Ready' : 'NOT Ready'}`,
  );
  lines.push(`${'kubeconfig'.padEnd(24)} ${dir}/kubeconfig`);
  process.stdout.write(`${lines.join('\n')}\n`);
  const pods = await kubectl(dir, ['get', 'pods', '-A', '-o', 'wide']);
  if (pods.code === 0) process.stdout.write(pods.stdout);
  return (
    st.nodeReady &&
    st.components.every((c) => c.pid || (c.name === 'kube-proxy' && !st.state.pids['kube-proxy']))
  );
}
