// The peer of a gRPC call, as the server edge (sdk/grpc) puts it into the call's Context, for
// elements that decide by who is calling: the namespace owner check, the forwarder's "only my
// nsmgr", the registry's socket owner. Without identities (insecure mode) this is all we know.
//
// grpc-js hides the socket from handlers; it shows `getPeer()`, built from the socket's
// remoteAddress, which a unix socket lacks. Our unix listener (sdk/grpc/listen.ts) accepts the
// connections itself, gives each socket a label as its remoteAddress ("unix-peer:N") and keeps the
// label → UnixPeer map while the socket lives; the call's getPeer() then leads back here.
import type { Socket } from 'node:net';
import { type Context, value, withValue } from '../../core/context.js';
import { netnsOfPid, netnsOfSocket, ownSocketInode, peerSocketInode, pidsHoldingSocket } from './common.js';

export interface UnixPeer {
  readonly transport: 'unix';
  /** The socket path the connection came in on. */
  readonly path: string;
  /**
   * The processes holding the other end, looked up once per connection (the first call asks; later
   * calls share the answer). Rejects when the kernel no longer knows the peer.
   */
  pids(): Promise<number[]>;
}

export interface TcpPeer {
  readonly transport: 'tcp';
  /** host:port as grpc-js reports it. */
  readonly address: string;
}

/** A gRPC call whose transport told us nothing (should not happen with our listeners). */
export interface UnknownPeer {
  readonly transport: 'unknown';
}

export type Peer = UnixPeer | TcpPeer | UnknownPeer;

const PEER = Symbol('peer');
const LABEL_PREFIX = 'unix-peer:';

export function withPeer(ctx: Context, peer: Peer): Context {
  return withValue(ctx, PEER, peer);
}

/** The caller, when the call came through one of our gRPC servers; undefined for in-process calls. */
export function peerFrom(ctx: Context): Peer | undefined {
  return value<Peer>(ctx, PEER);
}

/** How a peer reads in messages. */
export function describePeer(peer: Peer): string {
  if (peer.transport === 'tcp') return `tcp peer ${peer.address}`;
  if (peer.transport === 'unix') return `unix peer on ${peer.path}`;
  return 'unknown peer';
}

/** The namespaces ("inode://DEV/INO") the peer's processes are in now (re-read on every call). */
export async function peerNetns(peer: UnixPeer): Promise<Map<number, string | undefined>> {
  const pids = await peer.pids();
  return new Map(pids.map((p) => [p, netnsOfPid(p)] as const));
}

const live = new Map<string, UnixPeer>();
let nextLabel = 0;

/**
 * Labels an accepted unix socket so calls on it can find their peer (see the file comment), and
 * forgets it when the socket closes.
 */
export function trackUnixConnection(socket: Socket, path: string): void {
  const label = `${LABEL_PREFIX}${++nextLabel}`;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  let lookup: Promise<number[]> | undefined;
  const peer: UnixPeer = {
    transport: 'unix',
    path,
    pids: () => {
      lookup ??= (async () => {
        if (fd === undefined || fd < 0) throw new Error('the accepted socket has no descriptor');
        const ours = await ownSocketInode(fd);
        const theirs = await peerSocketInode(path, ours, await netnsOfSocket(ours));
        const pids = await pidsHoldingSocket(theirs);
        if (pids.length === 0) throw new Error(`no process holds peer socket ${theirs}`);
        return pids;
      })();
      // A failed lookup (a process came or went mid-scan) is not kept: the next call asks again.
      lookup.catch(() => {
        lookup = undefined;
      });
      return lookup;
    },
  };
  Object.defineProperty(socket, 'remoteAddress', { value: label, configurable: true });
  live.set(label, peer);
  socket.once('close', () => live.delete(label));
}

/** The Peer of a call, from grpc-js's `getPeer()`. */
export function peerOfCall(getPeer: string): Peer {
  if (getPeer.startsWith(LABEL_PREFIX)) {
    return live.get(getPeer) ?? { transport: 'unknown' };
  }
  if (getPeer === 'unknown' || getPeer === '') return { transport: 'unknown' };
  return { transport: 'tcp', address: getPeer };
}
