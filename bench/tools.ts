// The Debian tools some parts need: iperf3 (data plane, chain), nftables (the chain's firewall), haproxy (l7) and
// the real CNI plugins (the baseline).
// Missing ones are installed with apt-get (after apt-get update); if that is not allowed or fails,
// the bench stops with one line saying what to install.
import { existsSync } from 'node:fs';
import type { Part } from './context.js';
import { run } from './proc.js';

export const CNI_DIR = '/usr/lib/cni';

interface Tool {
  pkg: string;
  present: () => Promise<boolean>;
  neededBy: Part[];
}

async function onPath(cmd: string): Promise<boolean> {
  const r = await run('sh', ['-c', `command -v ${cmd}`]).catch(() => undefined);
  return r?.code === 0;
}

const TOOLS: Tool[] = [
  { pkg: 'iperf3', present: () => onPath('iperf3'), neededBy: ['dataplane', 'chain'] },
  { pkg: 'nftables', present: () => onPath('nft'), neededBy: ['chain'] },
  { pkg: 'haproxy', present: () => onPath('haproxy'), neededBy: ['l7'] },
  {
    pkg: 'containernetworking-plugins',
    present: async () => existsSync(`${CNI_DIR}/ptp`) && existsSync(`${CNI_DIR}/host-local`),
    neededBy: ['cni'],
  },
];

/** Makes sure the tools of the selected parts are there; returns an error line if they cannot be. */
export async function ensureTools(
  parts: readonly Part[],
  install: boolean,
  log: (l: string) => void,
): Promise<string | undefined> {
  const missing: string[] = [];
  for (const t of TOOLS) {
    if (t.neededBy.some((p) => parts.includes(p)) && !(await t.present())) missing.push(t.pkg);
  }
  if (missing.length === 0) return undefined;
  const advice = `bench: missing ${missing.join(', ')}; install with: apt-get update && apt-get install -y ${missing.join(' ')} (or leave out --only=${TOOLS.filter((t) => missing.includes(t.pkg)).flatMap((t) => t.neededBy)})`;
  if (!install || !(await onPath('apt-get'))) return advice;
  log(`installing ${missing.join(', ')} (apt-get update; apt-get install -y) ...`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  const update = await run('apt-get', ['update'], { env, timeoutMs: 300_000 });
  if (update.code !== 0) return `${advice} [apt-get update failed: ${lastLine(update.stderr)}]`;
  const inst = await run('apt-get', ['install', '-y', '--no-install-recommends', ...missing], {
    env,
    timeoutMs: 600_000,
  });
  if (inst.code !== 0) return `${advice} [apt-get install failed: ${lastLine(inst.stderr)}]`;
  for (const t of TOOLS) {
    if (missing.includes(t.pkg) && !(await t.present())) return `${advice} [still missing after apt-get]`;
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
