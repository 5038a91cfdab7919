// The cluster's state directory: everything `up` starts or changes on the host is written to
// DIR/state.json before it happens, so that `down` (even after a crash of `up`) knows what to undo.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log, sleep } from './exec.js';

export const CONTROL_PLANE = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler'] as const;
export const NODE_COMPONENTS = ['containerd', 'kube-proxy', 'kubelet'] as const;
export type ControlComponent = (typeof CONTROL_PLANE)[number];
export type NodeComponent = (typeof NODE_COMPONENTS)[number];
type Pids<K extends string> = Partial<Record<K, number>>;

export interface NodeState {
  /** 1 for the node in the host's network namespace, 2.. for nodes in their own namespace. */
  index: number;
  name: string;
  ip: string;
  /** The node's directory (containerd, kubelet, CNI config, pod logs) under the cluster dir. */
  dir: string;
  podCidr: string;
  /** The CNI bridge (in the node's network namespace). */
  bridge: string;
  /** Our cgroup parent in every hierarchy (removed on down). */
  cgroupRoot: string;
  /** Network namespace (/run/netns/NAME) of nodes 2..; the host-side veth and its address. */
  netns?: string;
  hostVeth?: string;
  hostIp?: string;
  ports: { kubelet: number; proxyHealthz: number; proxyMetrics: number };
  pids: Pids<NodeComponent>;
}

export interface ClusterState {
  dir: string;
  k8sVersion: string;
  serviceCidr: string;
  /** The pod range of all nodes (each node has a /24 of it). */
  clusterCidr: string;
  ports: { etcd: number; etcdPeer: number; apiserver: number };
  /** Sysctl values before up (`kernel/panic` -> "1"); kubelet and the CNI bridge plugin change some. */
  sysctls: Record<string, string>;
  /** iptables chains per "<binary> <table>" that existed before up; KUBE-* chains not listed are ours. */
  iptablesChains: Record<string, string[]>;
  /** Host paths that did not exist before up (kubelet and containerd create some); removed on down. */
  createdPaths: string[];
  pids: Pids<ControlComponent>;
  nodes: NodeState[];
}

export function statePath(dir: string): string {
  return path.join(dir, 'state.json');
}

export function readState(dir: string): ClusterState | undefined {
  try {
    return JSON.parse(fs.readFileSync(statePath(dir), 'utf8')) as ClusterState;
  } catch {
    return undefined;
  }
}

export function writeState(state: ClusterState): void {
  const tmp = `${statePath(state.dir)}.tmp`;
  fs.writeFileSync(tmp, `${JSON.stringify(state, null, 2)}\n`);
  fs.renameSync(tmp, statePath(state.dir));
}

function alive(pid: number): boolean {
  try {
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/**
 * `pid` if that process is still alive and still ours: its command line mentions the cluster directory (so
 * a recycled PID of some other program is never signalled).
 */
export function owned(dir: string, pid: number | undefined): number | undefined {
  if (!pid || !alive(pid)) return undefined;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${dir}/`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Every recorded process that still runs, as [label, pid]. */
export function runningPids(state: ClusterState): [string, number][] {
  const out: [string, number][] = [];
  for (const [name, pid] of Object.entries(state.pids)) {
    if (owned(state.dir, pid)) out.push([name, pid]);
  }
  for (const n of state.nodes) {
    for (const [name, pid] of Object.entries(n.pids))
      if (owned(state.dir, pid)) out.push([`${name}@${n.name}`, pid]);
  }
  return out;
}

export interface DaemonOptions {
  state: ClusterState;
  /** Where the PID is recorded (state.pids or a node's pids). */
  pids: Record<string, number | undefined>;
  name: string;
  /** Log file name under DIR/logs. */
  logName: string;
  cmd: string;
  args: string[];
  /** Run inside this network namespace (nsenter execs the command: the PID stays the daemon's). */
  netns?: string;
}

/** Starts a daemon detached from us (it outlives `up`), output to DIR/logs/<logName>.log; records its PID. */
export function startDaemon(o: DaemonOptions): number {
  const logFd = fs.openSync(path.join(o.state.dir, 'logs', `${o.logName}.log`), 'a');
  // nsenter --net only (not `ip netns exec`, which also remounts /sys and hides the cgroup mounts)
  const [cmd, args] = o.netns
    ? ['nsenter', [`--net=/run/netns/${o.netns}`, o.cmd, ...o.args]]
    : [o.cmd, o.args];
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: o.state.dir });
  fs.closeSync(logFd);
  if (!child.pid) throw new Error(`failed to start ${o.name} (${o.cmd})`);
  child.unref();
  o.pids[o.name] = child.pid;
  writeState(o.state);
  return child.pid;
}

/** SIGTERM the given processes at once, wait up to `graceMs`, then SIGKILL what is left; forget them. */
export async function stopDaemons(
  state: ClusterState,
  pids: Record<string, number | undefined>,
  names: readonly string[],
  graceMs: number,
): Promise<void> {
  const running = new Map<number, string>();
  for (const name of names) {
    const pid = owned(state.dir, pids[name]);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      running.set(pid, name);
    }
  }
  const end = Date.now() + graceMs;
  while ([...running.keys()].some(alive) && Date.now() < end) await sleep(100);
  for (const [pid, name] of running) {
    if (!alive(pid)) continue;
    if (graceMs >= 5000) log(`${name} (pid ${pid}) ignored SIGTERM for ${graceMs / 1000}s: SIGKILL`);
    process.kill(pid, 'SIGKILL');
  }
  for (const name of names) delete pids[name];
  writeState(state);
}
