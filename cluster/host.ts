// Host changes a node makes and their undo: Debian packages, sysctls, iptables chains, cgroups, mounts.
// Every undo only touches what the state file says we created, never other users' things.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { APT_PACKAGES, CNI_BIN_DIRS } from './config.js';
import { log, run, which } from './exec.js';

const CNI_PLUGINS = ['bridge', 'host-local', 'loopback'];
const HOST_COMMANDS = [
  'containerd',
  'containerd-shim-runc-v2',
  'ctr',
  'runc',
  'iptables',
  'conntrack',
  'openssl',
  'ip',
];

/**
 * Sysctls that kubelet (protectKernelDefaults: false) and the CNI bridge plugin (ip_forward) write at start;
 * `down` writes the old values back.
 */
export const TOUCHED_SYSCTLS = [
  'vm/overcommit_memory',
  'vm/panic_on_oom',
  'kernel/panic',
  'kernel/panic_on_oops',
  'kernel/keys/root_maxkeys',
  'kernel/keys/root_maxbytes',
  'net/ipv4/ip_forward',
];

/** Paths the kubelet and containerd create outside DIR; removed on down if they did not exist before and are empty. */
export const NODE_HOST_PATHS = [
  '/var/log/containers',
  '/var/log/pods',
  '/etc/kubernetes',
  // containerd's shims put their sockets in /run/containerd/s, ctr its fifos in /run/containerd/fifo
  '/run/containerd',
];

export function cniBinDir(): string | undefined {
  return CNI_BIN_DIRS.find((d) => CNI_PLUGINS.every((p) => fs.existsSync(path.join(d, p))));
}

async function missingCommands(): Promise<string[]> {
  const missing: string[] = [];
  for (const c of HOST_COMMANDS) if (!(await which(c))) missing.push(c);
  if (!cniBinDir()) missing.push(`CNI plugins (${CNI_PLUGINS.join(', ')})`);
  return missing;
}

/** Installs the Debian packages a node needs when something is missing (NSM_K8S_NO_APT=1 forbids it). */
export async function ensureHostDeps(): Promise<void> {
  let missing = await missingCommands();
  if (missing.length === 0) return;
  if (process.env.NSM_K8S_NO_APT !== '1' && (await which('apt-get'))) {
    log(`missing ${missing.join(', ')}: apt-get install ${APT_PACKAGES.join(' ')}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const install = ['install', '-y', '--no-install-recommends', ...APT_PACKAGES, 'iproute2'];
    const first = await run('apt-get', install, { env, allowFail: true });
    if (first.code !== 0) {
      await run('apt-get', ['update'], { env });
      await run('apt-get', install, { env });
    }
    missing = await missingCommands();
  }
  if (missing.length > 0) {
    throw new Error(
      `failed to find host tools: ${missing.join(', ')} (apt-get install ${APT_PACKAGES.join(' ')})`,
    );
  }
}

export function readSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const s of TOUCHED_SYSCTLS) {
    try {
      out[s] = fs.readFileSync(`/proc/sys/${s}`, 'utf8').trim();
    } catch {
      // not present on this kernel: nothing to restore
    }
  }
  return out;
}

export function restoreSysctls(saved: Record<string, string>): void {
  for (const [s, v] of Object.entries(saved)) {
    try {
      if (fs.readFileSync(`/proc/sys/${s}`, 'utf8').trim() !== v) fs.writeFileSync(`/proc/sys/${s}`, v);
    } catch (err) {
      log(`could not restore sysctl ${s}=${v}: ${(err as Error).message}`);
    }
  }
}

const IPTABLES = ['iptables', 'ip6tables'];
const TABLES = ['filter', 'nat', 'mangle'];

/** Chain names of `table` (from `iptables -S`: "-N NAME" lines plus the built-in "-P NAME" ones). */
export function parseChains(rules: string): string[] {
  return rules
    .split('\n')
    .map((l) => /^-[NP] (\S+)/.exec(l)?.[1])
    .filter((c): c is string => c !== undefined);
}

export async function snapshotIptables(): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const bin of IPTABLES) {
    if (!(await which(bin))) continue;
    for (const t of TABLES) {
      const r = await run(bin, ['-w', '5', '-t', t, '-S'], { allowFail: true });
      if (r.code === 0) out[`${bin} ${t}`] = parseChains(r.stdout);
    }
  }
  return out;
}

/**
 * Removes the KUBE-* chains that were not there before `up` (kubelet's canary and firewall chains, whatever
 * kube-proxy --cleanup left): first every rule that jumps to them, then the chains themselves.
 */
export async function removeNewKubeChains(before: Record<string, string[]>): Promise<void> {
  for (const key of Object.keys(before)) {
    const [bin, table] = key.split(' ');
    const r = await run(bin, ['-w', '5', '-t', table, '-S'], { allowFail: true });
    if (r.code !== 0) continue;
    const ours = parseChains(r.stdout).filter((c) => c.startsWith('KUBE-') && !before[key].includes(c));
    if (ours.length === 0) continue;
    for (const line of r.stdout.split('\n')) {
      const m = /^-A (\S+) (.*-j (\S+).*)$/.exec(line);
      if (!m || !ours.includes(m[3]) || ours.includes(m[1])) continue;
      // the rule text comes from iptables -S, whose quoting (comments) is shell syntax
      await run('sh', ['-c', `${bin} -w 5 -t ${table} -D ${m[1]} ${m[2]}`], { allowFail: true });
    }
    for (const c of ours) await run(bin, ['-w', '5', '-t', table, '-F', c], { allowFail: true });
    for (const c of ours) await run(bin, ['-w', '5', '-t', table, '-X', c], { allowFail: true });
  }
}

/** cgroup v1 controller mounts plus the cgroup2 tree (the hybrid "unified" mount or a pure v2 root). */
export function cgroupMounts(): { path: string; v2: boolean }[] {
  const out: { path: string; v2: boolean }[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const f = line.split(' ');
    const sep = f.indexOf('-');
    if (sep < 0) continue;
    const fstype = f[sep + 1];
    if (fstype === 'cgroup' || fstype === 'cgroup2') out.push({ path: f[4], v2: fstype === 'cgroup2' });
  }
  return out;
}

/** The kubelet wants its cgroupRoot to exist in every v1 controller, cpuset with cpus/mems filled in. */
export function makeCgroupRoot(name: string): void {
  for (const m of cgroupMounts()) {
    if (m.v2) continue;
    const d = path.join(m.path, name);
    fs.mkdirSync(d, { recursive: true });
    for (const f of ['cpuset.cpus', 'cpuset.mems']) {
      const parent = path.join(m.path, f);
      if (fs.existsSync(parent) && fs.readFileSync(path.join(d, f), 'utf8').trim() === '') {
        fs.writeFileSync(path.join(d, f), fs.readFileSync(parent, 'utf8'));
      }
    }
  }
}

/** Removes our cgroup trees deepest first; a cgroup that still holds processes stays and is reported. */
export function removeCgroupRoot(name: string): void {
  for (const m of cgroupMounts()) {
    const root = path.join(m.path, name);
    if (!fs.existsSync(root)) continue;
    const dirs: string[] = [];
    const walk = (d: string) => {
      dirs.push(d);
      for (const e of fs.readdirSync(d, { withFileTypes: true }))
        if (e.isDirectory()) walk(path.join(d, e.name));
    };
    walk(root);
    for (const d of dirs.reverse()) {
      try {
        fs.rmdirSync(d);
      } catch {
        // still in use: reported below
      }
    }
    if (fs.existsSync(root)) log(`cgroup ${root} still exists (processes left in it?)`);
  }
}

/** Mount points under dir, deepest first (mountinfo escapes spaces as \040). */
export function mountsUnder(dir: string): string[] {
  const prefix = `${dir}/`;
  const points = fs
    .readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((l) => l.split(' ')[4])
    .filter((p) => p?.startsWith(prefix))
    .map((p) => p.replace(/\\(\d{3})/g, (_, o: string) => String.fromCharCode(Number.parseInt(o, 8))));
  return [...new Set(points)].sort().reverse();
}

export async function unmountUnder(dir: string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    const ms = mountsUnder(dir);
    if (ms.length === 0) return;
    for (const m of ms) {
      const r = await run('umount', [m], { allowFail: true });
      if (r.code !== 0) await run('umount', ['-l', m], { allowFail: true });
    }
  }
  const left = mountsUnder(dir);
  if (left.length > 0) log(`mounts left under ${dir}: ${left.join(' ')}`);
}

/**
 * Removes each path in `created` (did not exist before up) when what is left in it is only empty
 * directories and symlinks into dir; anything else (some other program's file) keeps it and is reported.
 */
export function removeCreatedPaths(created: string[], dir: string): void {
  const prune = (p: string): boolean => {
    const st = fs.lstatSync(p, { throwIfNoEntry: false });
    if (!st) return true;
    if (st.isSymbolicLink() && fs.readlinkSync(p).startsWith(`${dir}/`)) {
      fs.rmSync(p);
      return true;
    }
    if (!st.isDirectory()) return false;
    let empty = true;
    for (const e of fs.readdirSync(p)) if (!prune(path.join(p, e))) empty = false;
    if (empty) fs.rmdirSync(p);
    return empty;
  };
  for (const p of created) if (!prune(p)) log(`kept ${p}: not empty`);
}
