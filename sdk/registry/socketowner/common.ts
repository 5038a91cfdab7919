// Pure and /proc helpers of socketowner: which listening sockets a process holds, and which of
// them an upstream `inode://DEV/INO` URL (st_dev/st_ino of the socket *file*) names.
import { readFile, stat } from 'node:fs/promises';
import { listenerInodes, pidHoldsSocket } from '../../tools/unixpeer/index.js';

/** The paths of listening unix sockets in a /proc/<pid>/net/unix table. */
export function listeningPaths(table: string): string[] {
  const paths = new Set<string>();
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length >= 8 && f[7].startsWith('/')) paths.add(f.slice(7).join(' '));
  }
  return [...paths].filter((p) => listenerInodes(table, p).length > 0);
}

/** "inode://DEV/INO" → { dev, ino }, or undefined when malformed. */
export function parseInodeURL(url: string): { dev: bigint; ino: bigint } | undefined {
  const m = /^inode:\/\/(\d{1,20})\/(\d{1,20})$/.exec(url);
  return m ? { dev: BigInt(m[1]), ino: BigInt(m[2]) } : undefined;
}

async function sameFile(path: string, dev: bigint, ino: bigint): Promise<boolean> {
  try {
    const st = await stat(path, { bigint: true });
    return st.dev === dev && st.ino === ino && st.isSocket();
  } catch {
    return false;
  }
}

/**
 * The unix:// URL of the socket file `inode://DEV/INO` names, among the sockets `pid` listens on:
 * the plain path when this process sees the same file there, else the path through the process's
 * root (/proc/PID/root/...: another mount namespace, as a pod's). Undefined when none matches.
 */
export async function resolveSocketInode(
  pid: number,
  dev: bigint,
  ino: bigint,
  procDir = '/proc',
): Promise<string | undefined> {
  const table = await readFile(`${procDir}/${pid}/net/unix`, 'utf8').catch(() => '');
  for (const path of listeningPaths(table)) {
    const held = await Promise.all(listenerInodes(table, path).map((i) => pidHoldsSocket(pid, i, procDir)));
    if (!held.some(Boolean)) continue;
    if (await sameFile(path, dev, ino)) return `unix://${path}`;
    const viaRoot = `${procDir}/${pid}/root${path}`;
    if (await sameFile(viaRoot, dev, ino)) return `unix://${viaRoot}`;
  }
  return undefined;
}
