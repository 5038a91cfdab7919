// rtnetlink messages as bytes: a builder for requests (header, family struct, attributes, nests)
// and a reader for the kernel's answers. Only what our batch lines need (ops.ts); the numbers are
// the kernel's uapi (linux/netlink.h, linux/rtnetlink.h, linux/if_link.h, linux/veth.h; the VXLAN ones are in if_link.h too).

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_REPLACE = 0x100;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;

export const NLMSG_ERROR = 2;
export const RTM_NEWLINK = 16;
export const RTM_DELLINK = 17;
export const RTM_GETLINK = 18;
export const RTM_NEWADDR = 20;
export const RTM_NEWROUTE = 24;
export const RTM_NEWNEIGH = 28;

export const IFF_UP = 0x1;
export const IFLA_ADDRESS = 1;
export const IFLA_IFNAME = 3;
export const IFLA_MTU = 4;
export const IFLA_LINKINFO = 18;
export const IFLA_IFALIAS = 20;
export const IFLA_NET_NS_FD = 28;
export const IFLA_EXT_MASK = 29;
export const IFLA_INFO_KIND = 1;
export const IFLA_INFO_DATA = 2;
export const VETH_INFO_PEER = 1;
export const IFLA_VXLAN_ID = 1;
export const IFLA_VXLAN_GROUP = 2;
export const IFLA_VXLAN_LINK = 3;
export const IFLA_VXLAN_LOCAL = 4;
export const IFLA_VXLAN_LEARNING = 7;
export const IFLA_VXLAN_PORT = 15;
export const IFLA_VXLAN_GROUP6 = 16;
export const IFLA_VXLAN_LOCAL6 = 17;

export const IFA_ADDRESS = 1;
export const IFA_LOCAL = 2;
export const IFA_F_NODAD = 0x02;

export const RTA_DST = 1;
export const RTA_OIF = 4;
export const RTA_GATEWAY = 5;
export const RTA_TABLE = 15;
export const RTA_VIA = 18;
export const RT_TABLE_UNSPEC = 0;
export const RT_TABLE_MAIN = 254;
export const RTPROT_BOOT = 3;
export const RT_SCOPE_UNIVERSE = 0;
export const RT_SCOPE_LINK = 253;
export const RT_SCOPE_HOST = 254;
export const RTN_UNICAST = 1;
export const RTNH_F_ONLINK = 0x4;

export const NDA_DST = 1;
export const NDA_LLADDR = 2;
export const NUD_PERMANENT = 0x80;

export const AF_INET = 2;
export const AF_INET6 = 10;

const HEADER = 16;

/** One request: `new Request(type, flags)`, then the family struct, then attributes; `bytes(seq)`. */
export class Request {
  private buf = Buffer.alloc(256);
  private off = HEADER;
  private readonly open: number[] = [];

  constructor(
    private readonly type: number,
    private readonly flags: number,
  ) {}

  /** struct ifinfomsg: family, index, flags and which flags change. */
  ifinfo(index = 0, flags = 0, change = 0): this {
    return this.u8(0).u8(0).u16(0).i32(index).u32(flags).u32(change);
  }

  /** struct ifaddrmsg. */
  ifaddr(family: number, prefixLength: number, flags: number, scope: number, index: number): this {
    return this.u8(family).u8(prefixLength).u8(flags).u8(scope).u32(index);
  }

  /** struct rtmsg (no source prefix, no TOS). */
  rtmsg(r: { family: number; dstLength: number; table: number; scope: number; flags: number }): this {
    return this.u8(r.family)
      .u8(r.dstLength)
      .u8(0)
      .u8(0)
      .u8(r.table)
      .u8(RTPROT_BOOT)
      .u8(r.scope)
      .u8(RTN_UNICAST)
      .u32(r.flags);
  }

  /** struct ndmsg. */
  ndmsg(family: number, index: number, state: number): this {
    return this.u8(family).u8(0).u16(0).i32(index).u16(state).u8(0).u8(0);
  }

  attr(type: number, payload: Buffer): this {
    this.reserve(4 + payload.length + 3);
    this.buf.writeUInt16LE(4 + payload.length, this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    payload.copy(this.buf, this.off + 4);
    this.off = align4(this.off + 4 + payload.length);
    return this;
  }

  /** A NUL-terminated string attribute. */
  string(type: number, value: string): this {
    return this.attr(type, Buffer.from(`${value}\0`, 'utf8'));
  }

  u32Attr(type: number, value: number): this {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(value);
    return this.attr(type, b);
  }

  /** Opens a nested attribute; `end()` closes the innermost. */
  nest(type: number): this {
    this.reserve(4);
    this.open.push(this.off);
    this.buf.writeUInt16LE(type, this.off + 2);
    this.off += 4;
    return this;
  }

  end(): this {
    const start = this.open.pop();
    if (start === undefined) throw new Error('netlink: end() without nest()');
    this.buf.writeUInt16LE(this.off - start, start);
    return this;
  }

  /** The whole message with its header; the nests must be closed. */
  bytes(seq: number): Buffer {
    if (this.open.length > 0) throw new Error('netlink: unclosed nest');
    this.buf.writeUInt32LE(this.off, 0);
    this.buf.writeUInt16LE(this.type, 4);
    this.buf.writeUInt16LE(this.flags, 6);
    this.buf.writeUInt32LE(seq, 8);
    this.buf.writeUInt32LE(0, 12); // port id: the kernel fills in ours
    return this.buf.subarray(0, this.off);
  }

  private u8(v: number): this {
    this.reserve(1);
    this.buf.writeUInt8(v, this.off++);
    return this;
  }

  private u16(v: number): this {
    this.reserve(2);
    this.buf.writeUInt16LE(v, this.off);
    this.off += 2;
    return this;
  }

  private u32(v: number): this {
    this.reserve(4);
    this.buf.writeUInt32LE(v >>> 0, this.off);
    this.off += 4;
    return this;
  }

  private i32(v: number): this {
    this.reserve(4);
    this.buf.writeInt32LE(v, this.off);
    this.off += 4;
    return this;
  }

  private reserve(n: number): void {
    if (this.off + n <= this.buf.length) return;
    const bigger = Buffer.alloc(Math.max(this.buf.length * 2, this.off + n));
    this.buf.copy(bigger);
    this.buf = bigger;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** One message of the kernel's answer: its type, sequence number, and for NLMSG_ERROR the errno (0: an ack). */
export interface Answer {
  readonly type: number;
  readonly seq: number;
  /** Positive errno of an NLMSG_ERROR; 0 for an ack; undefined for other messages. */
  readonly errno?: number;
  /** The message without its header. */
  readonly body: Buffer;
}

/** The messages in one datagram from the kernel. */
export function readAnswers(datagram: Buffer): Answer[] {
  const out: Answer[] = [];
  let off = 0;
  while (off + HEADER <= datagram.length) {
    const len = datagram.readUInt32LE(off);
    if (len < HEADER || off + len > datagram.length) break;
    const type = datagram.readUInt16LE(off + 4);
    const seq = datagram.readUInt32LE(off + 8);
    const body = datagram.subarray(off + HEADER, off + len);
    const errno = type === NLMSG_ERROR && body.length >= 4 ? Math.abs(body.readInt32LE(0)) : undefined;
    out.push({ type, seq, errno, body });
    off += align4(len);
  }
  return out;
}

/** The ifindex in an RTM_NEWLINK answer (struct ifinfomsg: family, pad, type, then the index). */
export function ifinfoIndex(body: Buffer): number {
  return body.readInt32LE(4);
}

/** The bytes of an address (network order), from the bigint that validate.ts parses. */
export function addressBytes(family: 4 | 6, value: bigint): Buffer {
  const n = family === 4 ? 4 : 16;
  const b = Buffer.alloc(n);
  let v = value;
  for (let i = n - 1; i >= 0; i--) {
    b[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return b;
}

/** The 6 bytes of a MAC written as aa:bb:cc:dd:ee:ff. */
export function macBytes(mac: string): Buffer {
  return Buffer.from(mac.split(':').map((x) => Number.parseInt(x, 16)));
}
