// `down`: undoes what `up` recorded in DIR/state.json, in an order that lets each daemon clean up after
// itself first: pods (CNI DEL, netns), then kubelets and kube-proxies, containers and shims, mounts, the
// control plane, and finally the host leftovers (cgroups, bridges, node namespaces, KUBE-* chains, sysctls,
// paths).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { binPath } from './build.js';
import { containerdSocket, ctr, kubectl } from './clients.js';
import { log, run, sleep } from './exec.js';
import {
  removeCgroupRoot,
  removeCreatedPaths,
  removeNewKubeChains,
  restoreSysctls,
  unmountUnder,
} from './host.js';
import { removeNodeNetwork } from './node.js';
import { type ClusterState, type NodeState, owned, readState, stopDaemons } from './state.js';

const POD_DRAIN_TIMEOUT_MS = 20_000;

export interface DownOptions {
  /** Keep DIR (logs) after stopping everything. */
  keepDir: boolean;
}

/** PIDs of the containerd shims serving the containerd on `sock` (their command line names it). */
export function shimPids(sock: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const args = fs.readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
      if (args[0].includes('containerd-shim') && args[args.indexOf('-address') + 1] === sock)
        out.push(Number(e));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

async function anyTaskRunning(nodes: NodeState[]): Promise<boolean> {
  for (const n of nodes) {
    const r = await ctr(n.dir, ['tasks', 'ls']);
    if (r.code === 0 && /\sRUNNING\s*$/m.test(r.stdout)) return true;
  }
  return false;
}

/** Lets the kubelets tear pods down (CNI DEL, netns removal) while everything still runs. */
async function drainPods(s: ClusterState): Promise<void> {
  if (!owned(s.dir, s.pids['kube-apiserver'])) return;
  const withKubelet = s.nodes.filter((n) => owned(s.dir, n.pids.kubelet));
  if (withKubelet.length === 0) return;
  await kubectl(s.dir, ['delete', 'pods', '--all', '-A', '--grace-period=0', '--force', '--wait=false']);
  const end = Date.now() + POD_DRAIN_TIMEOUT_MS;
  while (Date.now() < end && (await anyTaskRunning(withKubelet))) await sleep(200);
}

async function stopNode(s: ClusterState, n: NodeState): Promise<void> {
  const hadProxy = owned(s.dir, n.pids['kube-proxy']) !== undefined;
  await stopDaemons(s, n.pids, ['kubelet', 'kube-proxy'], 15_000);
  // a namespaced node's chains go with its namespace
  if (hadProxy && !n.netns) {
    const config = `--config=${s.dir}/run/kube-proxy-${n.name}.yaml`;
    await run(binPath('kube-proxy'), ['--cleanup', config], { allowFail: true });
  }
  if (owned(s.dir, n.pids.containerd)) {
    const ids = (await ctr(n.dir, ['tasks', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of ids) await ctr(n.dir, ['tasks', 'kill', '-s', 'SIGKILL', id]);
    if (ids.length > 0) await sleep(300);
    for (const id of ids) await ctr(n.dir, ['tasks', 'delete', '-f', id]);
    await stopDaemons(s, n.pids, ['containerd'], 15_000);
  }
  for (const pid of shimPids(containerdSocket(n.dir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
}

export async function down(
  dirArg: string,
  opts: DownOptions = { keepDir: process.env.NSM_K8S_KEEP === '1' },
) {
  const dir = path.resolve(dirArg);
  const s = readState(dir);
  if (!s) {
    log(`${dir}: no cluster state, nothing to do`);
    return;
  }
  const t0 = Date.now();
  const phases: string[] = [];
  let last = t0;
  const phase = (name: string) => {
    phases.push(`${name} ${((Date.now() - last) / 1000).toFixed(1)}s`);
    last = Date.now();
  };
  // 1. No controller may recreate pods while the kubelets remove them.
  await stopDaemons(s, s.pids, ['kube-controller-manager', 'kube-scheduler'], 2000);
  await drainPods(s);
  phase('pods');
  // 2. Kubelets, kube-proxies, leftover containers, containerd and its shims, node by node.
  for (const n of s.nodes) await stopNode(s, n);
  phase('nodes');
  // 3. Mounts under DIR (rootfs overlays, shm, pod network namespaces, volumes), then the control plane:
  //    its data is thrown away, no need for a long graceful stop; apiserver before etcd, or it hangs.
  await unmountUnder(dir);
  await stopDaemons(s, s.pids, ['kube-apiserver'], 5000);
  await stopDaemons(s, s.pids, ['etcd'], 3000);
  phase('control plane');
  // 4. Host leftovers.
  for (const n of s.nodes) removeCgroupRoot(n.cgroupRoot);
  phase('cgroups');
  for (const n of s.nodes) await removeNodeNetwork(n);
  phase('network');
  await removeNewKubeChains(s.iptablesChains);
  phase('iptables');
  restoreSysctls(s.sysctls);
  removeContainerLogLinks(dir);
  if (!opts.keepDir) {
    if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir}/`)) {
      log(`mounts remain under ${dir}: not deleting it`);
    } else {
      // rm(1) is several times faster than fs.rmSync on the tens of thousands of files of unpacked images
      await run('rm', ['-rf', '--one-file-system', dir], { allowFail: true });
    }
  }
  phase('files');
  // after DIR itself: its parent is one of them when up created it
  removeCreatedPaths(
    s.createdPaths.filter((p) => !opts.keepDir || p !== path.dirname(dir)),
    dir,
  );
  phase('host');
  log(`down in ${((Date.now() - t0) / 1000).toFixed(1)}s (${phases.join(', ')})`);
}

/** The kubelet links /var/log/containers/*.log to the pod logs under DIR. */
function removeContainerLogLinks(dir: string): void {
  const links = '/var/log/containers';
  if (!fs.existsSync(links)) return;
  for (const e of fs.readdirSync(links)) {
    const f = path.join(links, e);
    try {
      if (fs.lstatSync(f).isSymbolicLink() && fs.readlinkSync(f).startsWith(`${dir}/`)) fs.rmSync(f);
    } catch {
      // gone meanwhile
    }
  }
}
