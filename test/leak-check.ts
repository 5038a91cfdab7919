// The root leak check (installed by hooks.ts after every test file): nothing this test process made
// may outlive the file that made it. Scoped to what this process made, because other test runs
// share the machine:
//   - network namespaces it recorded (sdk/tools/sandbox/owned.ts) that still exist;
//   - links in our own (host) namespace whose name carries one of those namespaces' ids;
//   - directories it recorded (sandbox run dirs with the daemons' unix sockets) that still exist;
//   - processes descended from this one, or started with one of those directories in their
//     environment (a daemon whose parent died), except the CPU-load helper (test/cpu-load.ts).
// It reads /var/run/netns, /sys/class/net and /proc only, so it costs milliseconds and needs no
// root for a unit run. What it finds is removed after it is reported, so one leak does not fail
// every later file.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { owned } from '../sdk/tools/sandbox/owned.js';

const run = promisify(execFile);

const NETNS_DIR = '/var/run/netns';
/** How long teardown may still be finishing (a daemon exiting, `ip netns delete` running). */
export const LEAK_SETTLE_MS = 3_000;
const POLL_MS = 100;
/** A sandbox id (`nsm` + 6 hex) prefixes each of its names; shared prefixes like `nsmk-` do not identify us. */
const SANDBOX_ID = /^nsm[0-9a-f]{6}$/;

export interface Leaks {
  netns: string[];
  links: string[];
  dirs: string[];
  /** "PID command line" */
  processes: string[];
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Tokens that name our kernel objects: each sandbox id, and the full name of other namespaces. */
function tokens(netns: readonly string[]): string[] {
  const t = new Set<string>();
  for (const n of netns) {
    const head = n.split('-')[0];
    t.add(SANDBOX_ID.test(head) ? head : n);
  }
  return [...t];
}

interface Proc {
  pid: number;
  ppid: number;
}

function processes(): Proc[] {
  const out: Proc[] = [];
  for (const e of listDir('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    const stat = read(`/proc/${e}/stat`);
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest.length > 1) out.push({ pid: Number(e), ppid: Number(rest[1]) });
  }
  return out;
}

function cmdline(pid: number): string {
  return read(`/proc/${pid}/cmdline`).split('\0').join(' ').trim();
}

/** What this process made and is still there (empty lists: nothing). */
export function findLeaks(harnessPids: ReadonlySet<number>): Leaks {
  const mine = owned();
  const exemptPids = new Set([...harnessPids, ...mine.runScopedPids]);
  const existing = new Set(listDir(NETNS_DIR));
  const netns = mine.netns.filter((n) => existing.has(n));
  const ids = tokens(mine.netns);
  const links = listDir('/sys/class/net').filter((l) => ids.some((id) => l.includes(id)));
  const dirs = mine.dirs.filter((d) => existsSync(d));

  const procs = processes();
  const children = new Map<number, number[]>();
  for (const p of procs) children.set(p.ppid, [...(children.get(p.ppid) ?? []), p.pid]);
  const found = new Set<number>();
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      if (exemptPids.has(c) || found.has(c)) continue;
      found.add(c);
      walk(c);
    }
  };
  walk(process.pid);
  if (mine.dirs.length > 0) {
    for (const p of procs) {
      if (p.pid === process.pid || exemptPids.has(p.pid) || found.has(p.pid)) continue;
      const env = read(`/proc/${p.pid}/environ`);
      if (env && mine.dirs.some((d) => env.includes(`${d}/`))) found.add(p.pid);
    }
  }
  const processesLeft = [...found]
    .map((pid) => ({ pid, cmd: cmdline(pid) }))
    .filter((p) => p.cmd !== '') // exited (zombies have no command line) between the two reads
    .map((p) => `${p.pid} ${p.cmd.slice(0, 200)}`);
  return { netns, links, dirs, processes: processesLeft };
}

function empty(l: Leaks): boolean {
  return l.netns.length + l.links.length + l.dirs.length + l.processes.length === 0;
}

export function describeLeaks(l: Leaks): string {
  const parts: string[] = [];
  if (l.processes.length) parts.push(`processes: ${l.processes.join('; ')}`);
  if (l.netns.length) parts.push(`network namespaces: ${l.netns.join(', ')}`);
  if (l.links.length) parts.push(`links in the host namespace: ${l.links.join(', ')}`);
  if (l.dirs.length) {
    const detail = l.dirs.map((d) => {
      const sockets = listDir(d).filter((f) => f.endsWith('.sock'));
      return sockets.length ? `${d} (sockets ${sockets.join(', ')})` : d;
    });
    parts.push(`directories: ${detail.join(', ')}`);
  }
  return parts.join('\n');
}

/** Removes what findLeaks found: all of it was made by this process. */
async function removeLeaks(l: Leaks): Promise<void> {
  for (const p of l.processes) {
    try {
      process.kill(Number(p.split(' ')[0]), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  for (const n of l.netns) await run('ip', ['netns', 'delete', n]).catch(() => undefined);
  for (const link of l.links) await run('ip', ['link', 'delete', link]).catch(() => undefined);
  for (const d of l.dirs) rmSync(d, { recursive: true, force: true });
}

/**
 * Waits up to settleMs for everything this process made to be gone; throws naming what is
 * left (after removing it).
 */
export async function verifyNothingLeft(
  what: string,
  exemptPids: ReadonlySet<number>,
  settleMs = LEAK_SETTLE_MS,
): Promise<void> {
  const end = Date.now() + settleMs;
  let leaks = findLeaks(exemptPids);
  while (!empty(leaks) && Date.now() < end) {
    await new Promise((r) => setTimeout(r, POLL_MS));
    leaks = findLeaks(exemptPids);
  }
  if (empty(leaks)) return;
  const text = describeLeaks(leaks);
  await removeLeaks(leaks);
  throw new Error(`${what} left behind (now removed):\n${text}`);
}

/** Removes everything this process made that is still there, at once (for an interrupted run). */
export async function removeEverythingOwned(exemptPids: ReadonlySet<number>): Promise<Leaks> {
  const leaks = findLeaks(exemptPids);
  await removeLeaks(leaks);
  return leaks;
}
