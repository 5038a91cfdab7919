// The data-plane liveness check of the kernel client. Upstream pings every src×dst address pair;
// a fresh machine has no ping and Node has no raw ICMP sockets, so we open a TCP connection from
// our address to each peer address instead: any answer (SYN-ACK, or a RST for a closed port)
// proves the path through the connection works both ways; a timeout or an unreachable route
// means the data plane is down.
import { connect } from 'node:net';
import type { Connection } from '../../../api/gen/networkservice/connection.js';

export const LIVENESS_PORT = 9; // discard; almost always closed, so the peer answers with a RST

const ALIVE_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET']);

export function probeTcp(local: string, remote: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: remote, port: LIVENESS_PORT, localAddress: local });
    const done = (alive: boolean) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(alive);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (e: NodeJS.ErrnoException) => done(ALIVE_ERRORS.has(e.code ?? '')));
  });
}

const strip = (cidr: string) => cidr.split('/')[0];
const family = (ip: string) => (ip.includes(':') ? 6 : 4);

/** True when every (src, dst) pair of the same family answers; true when there is nothing to check. */
export async function kernelLivenessCheck(conn: Connection, timeoutMs: number): Promise<boolean> {
  const ip = conn.context?.ipContext;
  if (!ip) return true;
  const pairs: [string, string][] = [];
  for (const s of ip.srcIpAddrs.map(strip)) {
    for (const d of ip.dstIpAddrs.map(strip)) if (family(s) === family(d)) pairs.push([s, d]);
  }
  const results = await Promise.all(pairs.map(([s, d]) => probeTcp(s, d, timeoutMs)));
  return results.every(Boolean);
}
