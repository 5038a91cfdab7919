// The client's local DNS forwarder (upstream's on 127.0.0.1:53): a query whose name lies under a
// mesh search domain goes to that domain's mesh servers; every other query goes to the resolvers the
// pod had before. Replies are relayed as they come (no cache). dns-packet reads the question; the rest
// of the message is passed through untouched.
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import * as dnsPacket from 'dns-packet';
import { logger } from '../../tools/log.js';

const log = logger('dnscontext');
/** How long one upstream server may take before the next is tried. */
export const UPSTREAM_TIMEOUT_MS = 1_000;

export interface Route {
  /** Domain without trailing dot ("my-vl3"). */
  readonly domain: string;
  readonly servers: readonly string[];
}

export interface ForwarderOptions {
  readonly host: string;
  readonly port: number;
  /** Mesh domains, longest match wins. */
  readonly routes: () => readonly Route[];
  /** The pod's resolvers from before. */
  readonly fallback: () => readonly string[];
  /** Port of the upstream servers (53; tests use another). */
  readonly upstreamPort?: number;
}

export interface Forwarder {
  readonly port: number;
  close(): Promise<void>;
}

/** The servers for a name: the longest mesh domain it lies under, else the fallback. */
export function serversFor(
  name: string,
  routes: readonly Route[],
  fallback: readonly string[],
): readonly string[] {
  const n = name.toLowerCase().replace(/\.$/, '');
  let best: Route | undefined;
  for (const r of routes) {
    const d = r.domain.toLowerCase().replace(/\.$/, '');
    if ((n === d || n.endsWith(`.${d}`)) && (!best || d.length > best.domain.length)) best = r;
  }
  return best ? best.servers : fallback;
}

export async function startForwarder(opts: ForwarderOptions): Promise<Forwarder> {
  const socket = createSocket(opts.host.includes(':') ? 'udp6' : 'udp4');
  socket.on('message', (msg, rinfo) => {
    relay(opts, socket, msg, rinfo).catch((e: unknown) => log.debug({ err: e }, 'DNS query dropped'));
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(opts.port, opts.host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  socket.on('error', (e) => log.warn({ err: e }, 'DNS forwarder socket error'));
  return {
    port: socket.address().port,
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

async function relay(opts: ForwarderOptions, socket: Socket, msg: Buffer, from: RemoteInfo): Promise<void> {
  const q = dnsPacket.decode(msg);
  const name = q.questions?.[0]?.name ?? '';
  for (const server of serversFor(name, opts.routes(), opts.fallback())) {
    const reply = await ask(server, opts.upstreamPort ?? 53, msg);
    if (reply) {
      socket.send(reply, from.port, from.address);
      return;
    }
  }
}

function ask(server: string, port: number, msg: Buffer): Promise<Buffer | undefined> {
  const s = createSocket(server.includes(':') ? 'udp6' : 'udp4');
  return new Promise<Buffer | undefined>((resolve) => {
    const done = (b?: Buffer) => {
      clearTimeout(timer);
      s.close();
      resolve(b);
    };
    const timer = setTimeout(() => done(), UPSTREAM_TIMEOUT_MS);
    s.on('message', (m) => done(m));
    s.on('error', () => done());
    s.send(msg, port, server);
  });
}
