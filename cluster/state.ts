// The cluster's state directory: everything `up` starts or changes on the host is written to
// DIR/state.json before it happens, so that `down` (even after a crash of `up`) knows what to undo.
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { log, sleep } from './exec.js';

export const COMPONENTS = [
  'etcd',
  'kube-apiserver',
  'containerd',
  'kube-controller-manager',
  'kube-scheduler',
  'kube-proxy',
  'kubelet',
] as const;
export type Component = (typeof COMPONENTS)[number];

export interface ClusterState {
  dir: string;
  k8sVersion: string;
  nodeName: string;
  nodeIp: string;
  podCidr: string;
  serviceCidr: string;
  ports: {
    etcd: number;
    etcdPeer: number;
    apiserver: number;
    kubelet: number;
    proxyHealthz: number;
    proxyMetrics: number;
  };
  /** The CNI bridge (deleted on down). */
  bridge: string;
  /** Our cgroup parent in every hierarchy (removed on down). */
  cgroupRoot: string;
  /** Sysctl values before up (`kernel/panic` -> "1"); kubelet and the CNI bridge plugin change some. */
  sysctls: Record<string, string>;
  /** iptables chains per "<binary> <table>" that existed before up; KUBE-* chains not listed are ours. */
  iptablesChains: Record<string, string[]>;
  /** Host paths that did not exist before up (kubelet creates some); removed on down when empty. */
  createdPaths: string[];
  pids: Partial<Record<Component, number>>;
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

/**
 * The PID recorded for `name` if that process is still alive and still ours: its command line mentions the
 * state directory (so a recycled PID of some other program is never signalled).
 */
export function ownedPid(state: ClusterState, name: Component): number | undefined {
  const pid = state.pids[name];
  if (!pid) return undefined;
  try {
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/\) Z /.test(stat)) return undefined;
    return cmdline.includes(`${state.dir}/`) ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Starts a daemon detached from us (it outlives `up`), output to DIR/logs/<name>.log; records its PID. */
export function startDaemon(state: ClusterState, name: Component, cmd: string, args: string[]): number {
  const logFd = fs.openSync(path.join(state.dir, 'logs', `${name}.log`), 'a');
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', logFd, logFd], cwd: state.dir });
  fs.closeSync(logFd);
  if (!child.pid) throw new Error(`failed to start ${name} (${cmd})`);
  child.unref();
  state.pids[name] = child.pid;
  writeState(state);
  return child.pid;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return !/\) Z /.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** SIGTERM the named components at once, wait up to `graceMs`, then SIGKILL what is left. */
export async function stopDaemons(state: ClusterState, names: Component[], graceMs: number): Promise<void> {
  const pids = new Map<number, Component>();
  for (const name of names) {
    const pid = ownedPid(state, name);
    if (pid) {
      process.kill(pid, 'SIGTERM');
      pids.set(pid, name);
    }
  }
  const end = Date.now() + graceMs;
  while ([...pids.keys()].some(alive) && Date.now() < end) await sleep(100);
  for (const [pid, name] of pids) {
    if (!alive(pid)) continue;
    if (graceMs >= 5000) log(`${name} (pid ${pid}) ignored SIGTERM for ${graceMs / 1000}s: SIGKILL`);
    process.kill(pid, 'SIGKILL');
  }
  for (const name of names) delete state.pids[name];
  writeState(state);
}
