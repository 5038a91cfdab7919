// Debian packages a tool of ours needs at run time (nftables for the firewall CNF, haproxy for the L7
// gateway, iperf3 for the bench): present ones are left alone, missing ones are installed with
// apt-get (after apt-get update) when allowed, so `npm start` and `npm run bench` work on a fresh
// machine as root. When they cannot be installed the caller gets one line saying what to install.
import { execFile } from 'node:child_process';

export interface DebianPackage {
  pkg: string;
  /** Whether the package's program is already there. */
  present: () => Promise<boolean>;
}

interface Ran {
  code: number;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(
      cmd,
      args,
      { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }, timeout: timeoutMs },
      (err, _stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : 1) : 0;
        resolve({ code, stderr: String(stderr) || (err?.message ?? '') });
      },
    );
  });
}

/** True when `cmd` is a program on PATH. */
export async function onPath(cmd: string): Promise<boolean> {
  return (await run('sh', ['-c', `command -v '${cmd.replace(/'/g, '')}'`], 10_000)).code === 0;
}

/** A package whose presence is told by one program on PATH. */
export function programOf(pkg: string, program: string): DebianPackage {
  return { pkg, present: () => onPath(program) };
}

/**
 * Installs the missing ones of `packages` (apt-get update, then install) unless `install` is false.
 * Returns undefined when all are there afterwards, else one line naming what to install (and why
 * apt-get failed).
 */
export async function ensureDebianPackages(
  packages: readonly DebianPackage[],
  opts: { install: boolean; log: (line: string) => void },
): Promise<string | undefined> {
  const missing: string[] = [];
  for (const p of packages) if (!(await p.present())) missing.push(p.pkg);
  if (missing.length === 0) return undefined;
  const advice = `missing ${missing.join(', ')}; install with: apt-get update && apt-get install -y ${missing.join(' ')}`;
  if (!opts.install || !(await onPath('apt-get'))) return advice;
  opts.log(`installing ${missing.join(', ')} (apt-get update; apt-get install -y) ...`);
  const update = await run('apt-get', ['update'], 300_000);
  if (update.code !== 0) return `${advice} [apt-get update failed: ${lastLine(update.stderr)}]`;
  const inst = await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], 600_000);
  if (inst.code !== 0) return `${advice} [apt-get install failed: ${lastLine(inst.stderr)}]`;
  for (const p of packages) {
    if (missing.includes(p.pkg) && !(await p.present())) return `${advice} [still missing after apt-get]`;
  }
  return undefined;
}

function lastLine(s: string): string {
  return (
    s
      .trim()
      .split('\n')
      .filter((l) => l.trim())
      .pop() ?? ''
  );
}
