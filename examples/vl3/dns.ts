// DNS for a vL3 network: each replica answers the names of its own members and asks the other
// replicas for the rest. A member that asked with `?dnsName=redis` in its NSURL (request label
// `dnsName`) is `redis.<network service>.` (e.g. `redis.my-vl3.`), an A (or AAAA) record of its vL3
// address, for as long as its connection lives.
//
//   query from a member (RD=1) ─▶ own records ─▶ found: answer (AA)
//                                       └─ in the zone, not ours: ask every peer replica with RD=0
//                                          (peers answer from their own records only: no loops)
//   names outside the zone ─▶ REFUSED (a resolver moves on to its next server)
import { createSocket, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import type { Context } from '../../sdk/core/context.js';
import * as next from '../../sdk/core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../sdk/core/types.js';
import { PEER_LABEL } from '../../sdk/networkservice/ipam/vl3ipam/index.js';
import { logger } from '../../sdk/tools/log.js';

const log = logger('vl3');
/** How long a replica waits for its peers' answers to a name it does not have. */
export const FANOUT_TIMEOUT_MS = 500;
/** The request label a member names itself with (from `?dnsName=` in its NSURL). */
export const DNS_NAME_LABEL = 'dnsName';

/** Canonical form of a name: lower case, no trailing dot. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** name → addresses of this replica's members, kept by the `recordNames` element. */
export class MemberRecords {
  private readonly byName = new Map<string, { id: string; addrs: string[] }>();
  /** Replicas that connected to us (their DNS servers), by connection id. */
  private readonly peerAddrs = new Map<string, string>();
  constructor(readonly zone: string) {}

  setPeer(id: string, addr: string): void {
    this.peerAddrs.set(id, addr.split('/')[0]);
  }

  /** Addresses of the replicas that connected to this one. */
  incomingPeers(): string[] {
    return [...this.peerAddrs.values()];
  }

  set(id: string, dnsName: string, addrs: readonly string[]): void {
    this.byName.set(canonicalName(`${dnsName}.${this.zone}`), {
      id,
      addrs: addrs.map((a) => a.split('/')[0]),
    });
  }

  deleteConnection(id: string): void {
    this.peerAddrs.delete(id);
    for (const [name, r] of this.byName) if (r.id === id) this.byName.delete(name);
  }

  lookup(name: string): string[] | undefined {
    return this.byName.get(canonicalName(name))?.addrs;
  }

  inZone(name: string): boolean {
    const n = canonicalName(name);
    const z = canonicalName(this.zone);
    return n === z || n.endsWith(`.${z}`);
  }
}

/** Records a member's name once its connection is up; forgets it on Close. Chain placement: after IPAM. */
export function recordNames(records: MemberRecords): NetworkServiceServer {
  return {
    async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
      const conn = await next.server(ctx).request(ctx, req);
      const name = conn.labels?.[DNS_NAME_LABEL];
      const src = conn.context?.ipContext?.srcIpAddrs ?? [];
      if (conn.labels?.[PEER_LABEL] && src[0]) records.setPeer(conn.id, src[0]);
      else if (name) records.set(conn.id, name, src);
      return conn;
    },
    async close(ctx: Context, conn: Connection): Promise<void> {
      records.deleteConnection(conn.id);
      await next.server(ctx).close(ctx, conn);
    },
  };
}

export interface DnsServerOptions {
  readonly records: MemberRecords;
  /** The other replicas' addresses (their DNS servers). */
  readonly peers: () => string[];
  readonly port: number;
  readonly host?: string;
}

export interface DnsServer {
  readonly port: number;
  close(): Promise<void>;
}

export async function startDnsServer(opts: DnsServerOptions): Promise<DnsServer> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    answer(opts, msg)
      .then((out) => out && socket.send(out, rinfo.port, rinfo.address))
      .catch((e: unknown) => log.debug({ err: e }, 'bad DNS query'));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host ?? '0.0.0.0', () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (e) => log.warn({ err: e }, 'DNS socket error'));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function answer(opts: DnsServerOptions, msg: Buffer): Promise<Buffer | undefined> {
  const q = dnsPacket.decode(msg);
  if (q.type !== 'query' || !q.questions?.length) return undefined;
  const question = q.questions[0];
  const reply = (rcode: string, answers: dnsPacket.Answer[] = [], aa = true) =>
    dnsPacket.encode({
      type: 'response',
      id: q.id,
      // QR is set by type; AA when we are the authority, RD echoed, RA since we fan out.
      flags: (aa ? dnsPacket.AUTHORITATIVE_ANSWER : 0) | (q.flag_rd ? dnsPacket.RECURSION_DESIRED : 0),
      rcode,
      questions: q.questions,
      answers,
    } as dnsPacket.Packet);
  if (!opts.records.inZone(question.name)) return reply('REFUSED', [], false);
  const family = question.type === 'AAAA' ? ':' : question.type === 'A' ? '.' : undefined;
  const own = opts.records.lookup(question.name);
  if (own) {
    const data = own.filter((a) => family !== undefined && a.includes(family));
    return reply(
      'NOERROR',
      data.map((d) => ({ type: question.type as 'A', name: question.name, ttl: 5, data: d })),
    );
  }
  if (q.flag_rd) {
    const peerAnswer = await fanout(opts.peers(), opts.port, msg);
    if (peerAnswer) return rewriteId(peerAnswer, q.id ?? 0);
  }
  return reply('NXDOMAIN');
}

/** Asks every peer (RD cleared) and resolves with the first positive answer, or undefined. */
async function fanout(peers: string[], port: number, query: Buffer): Promise<Buffer | undefined> {
  if (peers.length === 0) return undefined;
  const q = Buffer.from(query);
  q.writeUInt16BE(q.readUInt16BE(2) & ~dnsPacket.RECURSION_DESIRED, 2);
  const socket: Socket = createSocket('udp4');
  try {
    return await new Promise<Buffer | undefined>((resolve) => {
      let pending = peers.length;
      const timer = setTimeout(() => resolve(undefined), FANOUT_TIMEOUT_MS);
      socket.on('message', (m) => {
        const r = dnsPacket.decode(m);
        if ((r as { rcode?: string }).rcode === 'NOERROR' && (r.answers?.length ?? 0) > 0) {
          clearTimeout(timer);
          resolve(m);
        } else if (--pending === 0) {
          clearTimeout(timer);
          resolve(undefined);
        }
      });
      socket.on('error', () => undefined);
      for (const p of peers) socket.send(q, port, p);
    });
  } finally {
    socket.close();
  }
}

function rewriteId(m: Buffer, id: number): Buffer {
  const out = Buffer.from(m);
  out.writeUInt16BE(id, 0);
  // Set RD back as the member asked.
  out.writeUInt16BE(out.readUInt16BE(2) | dnsPacket.RECURSION_DESIRED, 2);
  return out;
}
