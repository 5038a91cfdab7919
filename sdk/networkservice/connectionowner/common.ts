// Who owns a connection at one hop, and who is calling now (see README.md for the rules).
import { stat } from 'node:fs/promises';
import { status } from '@grpc/grpc-js';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import { getErrorMessage, NsmError } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { peerOf } from '../../tools/spiffe/peer.js';
import { decodeSegmentToken, isJwt } from '../../tools/token/jwt.js';
import { netnsOfPid, peerFrom, type UnixPeer, uidOfPid } from '../../tools/unixpeer/index.js';

const log = logger('connectionowner');

/**
 * An owner, as a comparable key and how it reads in messages:
 *  - `spiffe:<id>`             the caller's SPIFFE ID, proved by mTLS;
 *  - `unix:<netns>:uid=<uid>`  a unix peer's network namespace and effective uid (nsmgr);
 *  - `socket:<path>`           any caller on one unix socket (forwarder, endpoints: the socket's file
 *                              mode and, at the forwarder, allowpeer say who that can be);
 *  - `tcp:<host>`              a plaintext tcp caller's host (insecure mode: weak, see README);
 *  - `unknown`                 a transport that told us nothing.
 */
export type OwnerKey = string;

/** How unix callers are told apart: by process (netns + uid) or all one owner per socket. */
export type UnixOwnership = 'process' | 'socket';

/** Network namespace and effective uid of a process, or undefined when it is gone. */
export type ProcessOwner = (pid: number) => Promise<{ netns: string; uid: number } | undefined>;

export const realProcessOwner: ProcessOwner = async (pid) => {
  const netns = netnsOfPid(pid);
  const uid = await uidOfPid(pid);
  return netns === undefined || uid === undefined ? undefined : { netns, uid };
};

export interface CallerOptions {
  readonly unix: UnixOwnership;
  readonly processOwner: ProcessOwner;
}

export interface Caller {
  readonly key: OwnerKey;
  /** The caller's SPIFFE ID when it came over mTLS (MonitorConnections also shows it the paths it signed). */
  readonly spiffeId?: string;
  /** A unix peer's process facts, for the operator check. */
  readonly process?: { netns: string; uid: number };
}

export function denied(what: string, why: string): NsmError {
  return new NsmError(status.PERMISSION_DENIED, `failed to ${what}: ${why}`);
}

function hostOf(address: string): string {
  const v6 = /^\[(.*)\]:\d+$/.exec(address);
  if (v6) return v6[1];
  const i = address.lastIndexOf(':');
  return i > 0 && address.indexOf(':') === i ? address.slice(0, i) : address;
}

/**
 * The caller of a gRPC call; undefined for in-process calls (no transport: the daemon's own events,
 * tests), which are trusted. Throws PermissionDenied when the caller cannot be told (`what` says
 * what it was trying to do).
 */
export async function callerOf(ctx: Context, opts: CallerOptions, what: string): Promise<Caller | undefined> {
  const tls = peerOf(ctx);
  if (tls instanceof Error)
    throw denied(what, `the caller's certificate is not an X.509-SVID: ${tls.message}`);
  if (tls) return { key: `spiffe:${tls.spiffeId.id}`, spiffeId: tls.spiffeId.id };
  const peer = peerFrom(ctx);
  if (!peer) return undefined;
  if (peer.transport === 'tcp') return { key: `tcp:${hostOf(peer.address)}` };
  if (peer.transport === 'unknown') return { key: 'unknown' };
  if (opts.unix === 'socket') return { key: `socket:${peer.path}` };
  // Once per unix connection, like the peer lookup itself: changing its namespace or uid would take
  // a process privileges that already own every namespace on the node.
  let known = byPeer.get(peer);
  if (!known) {
    known = processCaller(peer, opts);
    byPeer.set(peer, known);
    known.catch(() => byPeer.delete(peer)); // a failed lookup is asked again next time
  }
  try {
    return await known;
  } catch (e) {
    throw denied(what, getErrorMessage(e));
  }
}

const byPeer = new WeakMap<UnixPeer, Promise<Caller>>();

async function processCaller(peer: UnixPeer, opts: CallerOptions): Promise<Caller> {
  let facts: ({ netns: string; uid: number } | undefined)[];
  try {
    facts = await Promise.all((await peer.pids()).map((p) => opts.processOwner(p)));
  } catch (e) {
    throw new Error(`cannot tell which process is calling (${getErrorMessage(e)})`);
  }
  const keys = new Set(facts.map((f) => (f ? `unix:${f.netns}:uid=${f.uid}` : 'gone')));
  const [key] = keys;
  if (keys.size !== 1 || key === 'gone' || !facts[0]) {
    throw new Error(`the calling processes are gone or differ in namespace or uid (${[...keys].join(', ')})`);
  }
  return { key, process: facts[0] };
}

/** The caller's segment (the one before ours) of a server-side connection, as an index key. */
export function callerSegmentKey(conn: Connection | undefined): string | undefined {
  const path = conn?.path;
  if (!path || path.index < 1) return undefined;
  const caller = path.pathSegments[path.index - 1];
  return caller?.id ? `${caller.name}\u0000${caller.id}` : undefined;
}

/** Whether a segment of the path carries a token signed by `spiffeId` (the connection passes through it). */
export function pathPassesThrough(conn: Connection, spiffeId: string): boolean {
  for (const s of conn.path?.pathSegments ?? []) {
    if (isJwt(s.token) && decodeSegmentToken(s.token)?.sub === spiffeId) return true;
  }
  return false;
}

/** Whether the caller is an operator: root in this daemon's own or the host's network namespace. */
export function isOperator(caller: Caller | undefined, operatorNetns: ReadonlySet<string>): boolean {
  if (!caller) return true; // in-process
  return caller.process?.uid === 0 && operatorNetns.has(caller.process.netns);
}

/**
 * The namespaces whose root users are operators: this process's, pid 1's (the host's on a node; a
 * container supervisor may hide it) and the namespace files configured (NSM_OPERATOR_NETNS).
 */
export async function operatorNamespaces(
  processOwner: ProcessOwner,
  files: readonly string[] = [],
): Promise<Set<string>> {
  const out = new Set<string>();
  for (const pid of [process.pid, 1]) {
    const f = await processOwner(pid).catch(() => undefined);
    if (f) out.add(f.netns);
  }
  for (const file of files) {
    try {
      const st = await stat(file, { bigint: true });
      out.add(`inode://${st.dev}/${st.ino}`);
    } catch (e) {
      log.warn(
        { file, err: e },
        'operator namespace not found: its root processes see only their own connections',
      );
    }
  }
  return out;
}
