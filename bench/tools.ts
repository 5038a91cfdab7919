// The Debian tools some parts need: iperf3 (data plane, chain), nftables (the chain's firewall), haproxy (l7) and
// the real CNI plugins (the baseline).
// Missing ones are installed with apt-get (after apt-get update); if that is not allowed or fails,
// the bench stops with one line saying what to install.
import { existsSync } from 'node:fs';
import { type DebianPackage, ensureDebianPackages, programOf } from '../sdk/tools/debian-packages.js';
import type { Part } from './context.js';

export const CNI_DIR = '/usr/lib/cni';

const TOOLS: (DebianPackage & { neededBy: Part[] })[] = [
  { ...programOf('iperf3', 'iperf3'), neededBy: ['dataplane', 'chain'] },
  { ...programOf('nftables', 'nft'), neededBy: ['chain'] },
  { ...programOf('haproxy', 'haproxy'), neededBy: ['l7'] },
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
  const needed = TOOLS.filter((t) => t.neededBy.some((p) => parts.includes(p)));
  const problem = await ensureDebianPackages(needed, { install, log });
  if (!problem) return undefined;
  const missing = await Promise.all(needed.map(async (t) => ((await t.present()) ? [] : t.neededBy)));
  return `bench: ${problem} (or leave out --only=${[...new Set(missing.flat())].join(',')})`;
}
