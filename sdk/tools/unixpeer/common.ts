// Who is at the other end of an accepted unix socket, without SO_PEERCRED (Node has none) and
// without a native addon: the kernel knows, and says so through two public interfaces.
//
//   1. our end's inode:   readlink /proc/self/fd/<fd>                 → socket:[OURS]
//   2. its namespace:     the /proc/<pid>/net/unix table listing OURS  → netns of some pid R
//   3. the peer's inode:  sock_diag there (`nsenter --net=/proc/R/ns/net ss -xnH src PATH`)
//                                                                      → "PATH OURS * PEER"
//   4. the peer process:  every /proc/<pid>/fd/* → socket:[PEER]       → pids
//
// Step 2 exists because the kernel makes an accepted unix socket in the *connecting* socket's
// network namespace (unix_stream_connect), not the listener's, and sock_diag lists only the
// sockets of the namespace it is asked in. Step 3 spawns one process (about 20 ms) and steps 2 and
// 4 read every process's namespace link and fd table (tens of ms on a busy node), so a connection
// is looked up once, lazily, and the answer kept for its lifetime (see peer.ts): never per Request. A process's namespace can change, so callers re-read
// /proc/<pid>/ns/net (one stat) whenever they decide something.
import { execFile } from 'node:child_process';
import { statSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** How many /proc/<pid>/fd directories are read at once while looking for a socket's holder. */
const PROC_SCAN_CONCURRENCY = 32;
/** sock_diag is asked at most this long; a stuck `ss` must not hold a connection's first call forever. */
const SS_TIMEOUT_MS = 5_000;
/** __SO_ACCEPTCON in /proc/net/unix's Flags column: a listening socket. */
const SO_ACCEPTCON = 0x10000;

/** "socket:[INO]" → INO, else undefined. */
export function socketInodeOfLink(link: string): string | undefined {
  return /^socket:\[(\d+)\]$/.exec(link)?.[1];
}

/** The inode of one of this process's socket descriptors. */
export async function ownSocketInode(fd: number, procDir = '/proc'): Promise<string> {
  const ino = socketInodeOfLink(await readlink(`${procDir}/self/fd/${fd}`));
  if (!ino) throw new Error(`fd ${fd} is not a socket`);
  return ino;
}

/**
 * From `ss -xnH` output, the peer inode of the socket whose own inode is `ours`. Each line ends
 * "LOCAL_ADDR LOCAL_INO PEER_ADDR PEER_INO" (a path may hold spaces, so read from the end).
 */
export function peerInodeFromSs(output: string, ours: string): string | undefined {
  for (const line of output.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 6) continue;
    if (f[f.length - 3] === ours && /^\d+$/.test(f[f.length - 1])) return f[f.length - 1];
  }
  return undefined;
}

/** Does a /proc/<pid>/net/unix table list socket inode `ino`? */
export function tableHasInode(table: string, ino: string): boolean {
  for (const line of table.split('\n')) {
    if (line.trim().split(/\s+/)[6] === ino) return true;
  }
  return false;
}

/**
 * A /proc/<pid>/ns/net path of the network namespace socket `ino` lives in: one process per
 * namespace is asked for its unix table.
 */
export async function netnsOfSocket(ino: string, procDir = '/proc'): Promise<string> {
  const pids = (await readdir(procDir)).filter((e) => /^\d+$/.test(e));
  const seen = new Set<string>();
  const own = netnsOfPid(process.pid, procDir);
  for (const pid of [String(process.pid), ...pids]) {
    const ns = netnsOfPid(Number(pid), procDir);
    if (ns === undefined || seen.has(ns)) continue;
    seen.add(ns);
    const table = await readFile(`${procDir}/${pid}/net/unix`, 'utf8').catch(() => '');
    if (tableHasInode(table, ino)) return ns === own ? `${procDir}/self/ns/net` : `${procDir}/${pid}/ns/net`;
  }
  throw new Error(`no network namespace lists socket ${ino}`);
}

/**
 * The peer inode of our accepted socket `ours`, bound to `path`: sock_diag (iproute2's ss), asked
 * in the namespace the socket lives in (`netnsPath`, see netnsOfSocket).
 */
export async function peerSocketInode(path: string, ours: string, netnsPath: string): Promise<string> {
  // In our own namespace no nsenter is needed (nor CAP_SYS_ADMIN: unit tests run unprivileged).
  const own = netnsPath.endsWith('/self/ns/net');
  const [cmd, ...args] = [...(own ? [] : ['nsenter', `--net=${netnsPath}`]), 'ss', '-xnH', 'src', path];
  const { stdout } = await execFileAsync(cmd, args, {
    timeout: SS_TIMEOUT_MS,
    maxBuffer: 16 * 1024 * 1024,
  });
  const peer = peerInodeFromSs(stdout, ours);
  if (!peer) throw new Error(`sock_diag does not list socket ${ours} on ${path} (peer gone?)`);
  return peer;
}

async function pool<T>(items: readonly T[], limit: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  const worker = async () => {
    while (i < items.length) await fn(items[i++]);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** Every pid with a descriptor on socket inode `ino` (usually one; more after fork). */
export async function pidsHoldingSocket(ino: string, procDir = '/proc'): Promise<number[]> {
  const want = `socket:[${ino}]`;
  const pids = (await readdir(procDir)).filter((e) => /^\d+$/.test(e));
  const found: number[] = [];
  await pool(pids, PROC_SCAN_CONCURRENCY, async (pid) => {
    if (await holdsLink(`${procDir}/${pid}/fd`, want)) found.push(Number(pid));
  });
  return found.sort((a, b) => a - b);
}

async function holdsLink(fdDir: string, want: string): Promise<boolean> {
  const fds = await readdir(fdDir).catch(() => [] as string[]); // gone, or a kernel thread
  for (const fd of fds) {
    const link = await readlink(`${fdDir}/${fd}`).catch(() => '');
    if (link === want) return true;
  }
  return false;
}

/** Does `pid` hold a descriptor on socket inode `ino`? */
export function pidHoldsSocket(pid: number, ino: string, procDir = '/proc'): Promise<boolean> {
  return holdsLink(`${procDir}/${pid}/fd`, `socket:[${ino}]`);
}

/** "inode://DEV/INO" of a process's network namespace, or undefined when the process is gone. */
export function netnsOfPid(pid: number, procDir = '/proc'): string | undefined {
  try {
    // Synchronous: procfs never waits for a disk, and every Request from a unix peer asks.
    const st = statSync(`${procDir}/${pid}/ns/net`, { bigint: true });
    return `inode://${st.dev}/${st.ino}`;
  } catch {
    return undefined;
  }
}

/**
 * Inodes of the listening sockets bound to `path`, from a /proc/<pid>/net/unix table (the table of
 * that process's network namespace, where the socket was made).
 */
export function listenerInodes(table: string, path: string): string[] {
  const out: string[] = [];
  for (const line of table.split('\n').slice(1)) {
    // Num RefCount Protocol Flags Type St Inode Path
    const f = line.trim().split(/\s+/);
    if (f.length < 8) continue;
    const p = f.slice(7).join(' ');
    if (p === path && (Number.parseInt(f[3], 16) & SO_ACCEPTCON) !== 0) out.push(f[6]);
  }
  return out;
}

/** Does `pid` listen on the unix socket `path` (holds a descriptor on the listener bound there)? */
export async function pidListensOn(pid: number, path: string, procDir = '/proc'): Promise<boolean> {
  const table = await readFile(`${procDir}/${pid}/net/unix`, 'utf8').catch(() => '');
  for (const ino of listenerInodes(table, path)) {
    if (await pidHoldsSocket(pid, ino, procDir)) return true;
  }
  return false;
}

/** A process's effective uid, from /proc/<pid>/status, or undefined when the process is gone. */
export async function uidOfPid(pid: number, procDir = '/proc'): Promise<number | undefined> {
  const text = await readFile(`${procDir}/${pid}/status`, 'utf8').catch(() => '');
  // "Uid:\treal\teffective\tsaved\tfs"
  const m = /^Uid:\s+\d+\s+(\d+)/m.exec(text);
  return m ? Number(m[1]) : undefined;
}
