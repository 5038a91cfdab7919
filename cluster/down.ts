// `down`: undoes what `up` recorded in DIR/state.json, in an order that lets each daemon clean up after
// itself first: pods (CNI DEL, netns), then kubelet and kube-proxy, containers and shims, mounts, the
// control plane, and finally the host leftovers (cgroups, bridge, KUBE-* chains, sysctls, paths).
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
import { ownedPid, readState, stopDaemons } from './state.js';

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
  // 1. Stop the controllers so nothing recreates pods, then let the kubelet tear pods down while it runs.
  await stopDaemons(s, ['kube-controller-manager', 'kube-scheduler'], 2000);
  if (ownedPid(s, 'kube-apiserver') && ownedPid(s, 'kubelet')) {
    await kubectl(dir, ['delete', 'pods', '--all', '-A', '--grace-period=0', '--force', '--wait=false']);
    const end = Date.now() + POD_DRAIN_TIMEOUT_MS;
    while (Date.now() < end) {
      const r = await ctr(dir, ['tasks', 'ls']);
      if (r.code !== 0 || !/\sRUNNING\s*$/m.test(r.stdout)) break;
      await sleep(200);
    }
  }
  const hadProxy = ownedPid(s, 'kube-proxy') !== undefined;
  await stopDaemons(s, ['kubelet', 'kube-proxy'], 15_000);
  if (hadProxy) {
    await run(binPath('kube-proxy'), ['--cleanup', `--config=${dir}/run/kube-proxy.yaml`], {
      allowFail: true,
    });
  }
  // 2. Whatever containers remain, then containerd and its shims.
  if (ownedPid(s, 'containerd')) {
    const ids = (await ctr(dir, ['tasks', 'ls', '-q'])).stdout.split('\n').filter(Boolean);
    for (const id of ids) await ctr(dir, ['tasks', 'kill', '-s', 'SIGKILL', id]);
    await sleep(300);
    for (const id of ids) await ctr(dir, ['tasks', 'delete', '-f', id]);
    await stopDaemons(s, ['containerd'], 15_000);
  }
  for (const pid of shimPids(containerdSocket(dir))) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // exited meanwhile
    }
  }
  // 3. Mounts under DIR (rootfs overlays, shm, netns, volumes), then the control plane: its state is
  //    thrown away, no need for a long graceful stop. apiserver before etcd, or the apiserver hangs.
  await unmountUnder(dir);
  await stopDaemons(s, ['kube-apiserver'], 5000);
  await stopDaemons(s, ['etcd'], 3000);
  // 4. Host leftovers.
  removeCgroupRoot(s.cgroupRoot);
  if ((await run('ip', ['link', 'show', s.bridge], { allowFail: true })).code === 0) {
    await run('ip', ['link', 'delete', s.bridge], { allowFail: true });
  }
  await removeNewKubeChains(s.iptablesChains);
  restoreSysctls(s.sysctls);
  removeContainerLogLinks(dir);
  removeCreatedPaths(s.createdPaths, dir);
  if (!opts.keepDir) {
    if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${dir}/`)) {
      log(`mounts remain under ${dir}: not deleting it`);
    } else {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  log(`down in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
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
