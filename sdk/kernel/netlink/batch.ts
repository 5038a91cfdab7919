// Runs a batch of our lines (lines.ts) over rtnetlink, with iproute2's contract: the lines run in
// order, the first failure stops the batch (or, with `force`, is reported after the rest ran), and
// the error names the line, the namespace and what went wrong in iproute2's words
// ("RTNETLINK answers: File exists", `Cannot find device "X"`), so that callers and their error
// codes do not change.
import { KernelCommandError } from '../kernel-command-error.js';
import type { LineOp, NewLink } from './lines.js';
import {
  AF_INET,
  AF_INET6,
  addressBytes,
  IFA_ADDRESS,
  IFA_F_NODAD,
  IFA_LOCAL,
  IFF_UP,
  IFLA_ADDRESS,
  IFLA_EXT_MASK,
  IFLA_IFALIAS,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  IFLA_MTU,
  IFLA_NET_NS_FD,
  IFLA_VXLAN_GROUP,
  IFLA_VXLAN_GROUP6,
  IFLA_VXLAN_ID,
  IFLA_VXLAN_LEARNING,
  IFLA_VXLAN_LINK,
  IFLA_VXLAN_LOCAL,
  IFLA_VXLAN_LOCAL6,
  IFLA_VXLAN_PORT,
  ifinfoIndex,
  macBytes,
  NDA_DST,
  NDA_LLADDR,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_EXCL,
  NLM_F_REPLACE,
  NLM_F_REQUEST,
  NUD_PERMANENT,
  Request,
  RT_SCOPE_HOST,
  RT_SCOPE_LINK,
  RT_SCOPE_UNIVERSE,
  RT_TABLE_MAIN,
  RT_TABLE_UNSPEC,
  RTA_DST,
  RTA_GATEWAY,
  RTA_OIF,
  RTA_TABLE,
  RTA_VIA,
  RTM_DELLINK,
  RTM_GETLINK,
  RTM_NEWADDR,
  RTM_NEWLINK,
  RTM_NEWNEIGH,
  RTM_NEWROUTE,
  RTNH_F_ONLINK,
  VETH_INFO_PEER,
} from './message.js';
import { NetlinkError, type Rtnl, type RtnlSocket } from './socket.js';

const ENODEV = 19;
const CHANGE = NLM_F_REQUEST | NLM_F_ACK;
const REPLACE = CHANGE | NLM_F_CREATE | NLM_F_REPLACE;

/**
 * Runs `ops` (read from `commands`, one per line) in the namespace at `netns` (null: ours).
 * Throws KernelCommandError for the first failing line.
 */
export async function runNetlinkBatch(
  rtnl: Rtnl,
  netns: string | null,
  commands: readonly string[],
  ops: readonly LineOp[],
  force = false,
): Promise<void> {
  let sock: RtnlSocket;
  try {
    sock = rtnl.socket(netns);
  } catch (e) {
    throw failure(e, '', netns);
  }
  let first: KernelCommandError | undefined;
  try {
    const line = new LineRunner(rtnl, sock);
    for (let i = 0; i < ops.length; i++) {
      try {
        await line.run(ops[i]);
      } catch (e) {
        first ??= failure(e, commands[i], netns);
        if (!force) break;
      }
    }
  } finally {
    sock.close();
  }
  if (first) throw first;
}

function failure(e: unknown, command: string, netns: string | null): KernelCommandError {
  if (!(e instanceof NetlinkError)) throw e; // a bug, not the kernel's answer
  const stderr = e.step ? e.message : `RTNETLINK answers: ${e.text}`;
  return new KernelCommandError({ command, stderr, netns, cause: e });
}

/** One batch's lines on one socket; remembers the ifindex of each name it looked up. */
class LineRunner {
  private readonly index = new Map<string, number>();

  constructor(
    private readonly rtnl: Rtnl,
    private readonly sock: RtnlSocket,
  ) {}

  /** Synchronous except for creates and deletes (see socket.ts): a promise only then. */
  run(op: LineOp): Promise<void> | undefined {
    switch (op.kind) {
      case 'veth':
        return this.veth(op.a, op.b);
      case 'vxlan':
        return this.vxlan(op);
      case 'set': {
        const req = new Request(RTM_NEWLINK, CHANGE).ifinfo(0, op.up ? IFF_UP : 0, op.up ? IFF_UP : 0);
        req.string(IFLA_IFNAME, op.dev);
        if (op.mtu !== undefined) req.u32Attr(IFLA_MTU, op.mtu);
        if (op.alias !== undefined) req.string(IFLA_IFALIAS, op.alias);
        this.send(req, op.dev);
        return;
      }
      case 'addr': {
        const a = op.address;
        // iproute2's default scope: host for 127/8, global otherwise.
        const scope = a.family === 4 && a.value >> 24n === 127n ? RT_SCOPE_HOST : RT_SCOPE_UNIVERSE;
        const bytes = addressBytes(a.family, a.value);
        const req = new Request(RTM_NEWADDR, REPLACE)
          .ifaddr(family(a.family), a.prefixLength, op.nodad ? IFA_F_NODAD : 0, scope, this.ifindex(op.dev))
          .attr(IFA_LOCAL, bytes)
          .attr(IFA_ADDRESS, bytes);
        this.send(req);
        return;
      }
      case 'route':
        this.route(op);
        return;
      case 'neigh': {
        const req = new Request(RTM_NEWNEIGH, REPLACE)
          .ndmsg(family(op.ip.family), this.ifindex(op.dev), NUD_PERMANENT)
          .attr(NDA_DST, addressBytes(op.ip.family, op.ip.value))
          .attr(NDA_LLADDR, macBytes(op.mac));
        this.send(req);
        return;
      }
      case 'del': {
        this.index.delete(op.dev);
        const req = new Request(RTM_DELLINK, CHANGE).ifinfo().string(IFLA_IFNAME, op.dev);
        return this.sock.requestOffThread(req).then(
          () => undefined,
          (e: unknown) => {
            throw deviceError(e, op.dev);
          },
        );
      }
      case 'show':
        this.ifindex(op.dev);
        return;
    }
  }

  /** Both ends born in their namespaces (IFLA_NET_NS_FD), sized and addressed; set up by later lines. */
  private async veth(a: NewLink, b: NewLink): Promise<void> {
    const fds: number[] = [];
    try {
      const req = new Request(RTM_NEWLINK, CHANGE | NLM_F_CREATE | NLM_F_EXCL).ifinfo();
      this.end(req, a, fds);
      req.nest(IFLA_LINKINFO).string(IFLA_INFO_KIND, 'veth').nest(IFLA_INFO_DATA).nest(VETH_INFO_PEER);
      req.ifinfo(); // the peer's own ifinfomsg (its flags must stay 0: the kernel refuses up here)
      this.end(req, b, fds);
      req.end().end().end();
      await this.create(req);
    } finally {
      for (const fd of fds) this.closeFd(fd);
    }
    for (const e of [a, b]) if (e.netns === null) this.index.delete(e.name);
  }

  /**
   * A VXLAN born in its namespace; its UDP socket stays in the batch's (the node's underlay).
   * The attributes iproute2 sends for the same line: link, id, local, remote, learning, port.
   */
  private async vxlan(op: Extract<LineOp, { kind: 'vxlan' }>): Promise<void> {
    const fds: number[] = [];
    try {
      const req = new Request(RTM_NEWLINK, CHANGE | NLM_F_CREATE | NLM_F_EXCL).ifinfo();
      this.end(req, op.link, fds);
      req.nest(IFLA_LINKINFO).string(IFLA_INFO_KIND, 'vxlan').nest(IFLA_INFO_DATA);
      if (op.dev !== undefined) req.u32Attr(IFLA_VXLAN_LINK, this.ifindex(op.dev));
      req.u32Attr(IFLA_VXLAN_ID, op.vni);
      const v6 = op.local.family === 6;
      req.attr(v6 ? IFLA_VXLAN_LOCAL6 : IFLA_VXLAN_LOCAL, addressBytes(op.local.family, op.local.value));
      req.attr(v6 ? IFLA_VXLAN_GROUP6 : IFLA_VXLAN_GROUP, addressBytes(op.remote.family, op.remote.value));
      req.attr(IFLA_VXLAN_LEARNING, Buffer.from([1]));
      const port = Buffer.alloc(2);
      port.writeUInt16BE(op.port); // network order, unlike every other number here
      req.attr(IFLA_VXLAN_PORT, port);
      req.end().end();
      await this.create(req);
    } finally {
      for (const fd of fds) this.closeFd(fd);
    }
    if (op.link.netns === null) this.index.delete(op.link.name);
  }

  private end(req: Request, e: NewLink, fds: number[]): void {
    req.string(IFLA_IFNAME, e.name);
    if (e.netns !== null) {
      const fd = this.rtnl.openNetns(e.netns);
      fds.push(fd);
      req.u32Attr(IFLA_NET_NS_FD, fd);
    }
    if (e.mtu !== undefined) req.u32Attr(IFLA_MTU, e.mtu);
    if (e.mac !== undefined) req.attr(IFLA_ADDRESS, macBytes(e.mac));
  }

  private route(op: Extract<LineOp, { kind: 'route' }>): void {
    const p = op.prefix;
    const table = op.table ?? RT_TABLE_MAIN;
    const req = new Request(RTM_NEWROUTE, REPLACE).rtmsg({
      family: family(p.family),
      dstLength: p.prefixLength,
      table: table < 256 ? table : RT_TABLE_UNSPEC,
      scope: op.via ? RT_SCOPE_UNIVERSE : RT_SCOPE_LINK,
      flags: op.onlink ? RTNH_F_ONLINK : 0,
    });
    if (table >= 256) req.u32Attr(RTA_TABLE, table);
    if (p.prefixLength > 0) req.attr(RTA_DST, addressBytes(p.family, p.value));
    if (op.via && op.via.family === p.family) {
      req.attr(RTA_GATEWAY, addressBytes(op.via.family, op.via.value));
    } else if (op.via) {
      // An IPv4 route via an IPv6 next hop (RFC 5549): struct rtvia, the family then the address.
      const via = Buffer.alloc(2);
      via.writeUInt16LE(family(op.via.family));
      req.attr(RTA_VIA, Buffer.concat([via, addressBytes(op.via.family, op.via.value)]));
    }
    req.u32Attr(RTA_OIF, this.ifindex(op.dev));
    this.send(req);
  }

  private ifindex(dev: string): number {
    const known = this.index.get(dev);
    if (known !== undefined) return known;
    const req = new Request(RTM_GETLINK, NLM_F_REQUEST)
      .ifinfo()
      .u32Attr(IFLA_EXT_MASK, 0)
      .string(IFLA_IFNAME, dev);
    const reply = this.send(req, dev);
    if (!reply) throw new NetlinkError(ENODEV, 'No such device', `Cannot find device "${dev}"`);
    const index = ifinfoIndex(reply.body);
    this.index.set(dev, index);
    return index;
  }

  /**
   * A create, sent from libuv's thread pool: 0.6 ms of kernel work at p50 but several under load
   * (the rtnl lock, held by deletes meanwhile), which Node's thread spends on other requests.
   */
  private async create(req: Request): Promise<void> {
    await this.sock.requestOffThread(req);
  }

  /** The request's answer; a missing device reads as iproute2 says it when `dev` is named. */
  private send(req: Request, dev?: string) {
    try {
      return this.sock.request(req);
    } catch (e) {
      throw dev === undefined ? e : deviceError(e, dev);
    }
  }

  private closeFd(fd: number): void {
    try {
      this.rtnl.closeNetns(fd);
    } catch {
      // already closed: nothing to release
    }
  }
}

/** A missing device in iproute2's words. */
function deviceError(e: unknown, dev: string): unknown {
  if (e instanceof NetlinkError && e.errno === ENODEV && !e.step) {
    return new NetlinkError(ENODEV, e.text, `Cannot find device "${dev}"`);
  }
  return e;
}

function family(f: 4 | 6): number {
  return f === 4 ? AF_INET : AF_INET6;
}
