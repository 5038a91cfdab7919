import assert from 'node:assert/strict';
import {
  addressBytes,
  IFLA_IFNAME,
  IFLA_INFO_DATA,
  IFLA_INFO_KIND,
  IFLA_LINKINFO,
  macBytes,
  NLM_F_ACK,
  NLM_F_REQUEST,
  NLMSG_ERROR,
  Request,
  RTM_NEWLINK,
  readAnswers,
} from './message.js';

describe('netlink: message bytes', () => {
  it('writes the header, the family struct and 4-byte aligned attributes, nests with their length', () => {
    const b = new Request(RTM_NEWLINK, NLM_F_REQUEST | NLM_F_ACK)
      .ifinfo()
      .string(IFLA_IFNAME, 'a0')
      .nest(IFLA_LINKINFO)
      .string(IFLA_INFO_KIND, 'veth')
      .nest(IFLA_INFO_DATA)
      .end()
      .end()
      .bytes(7);
    // header 16 + ifinfomsg 16 + "a0\0" (7, padded to 8) + linkinfo (4 + "veth\0" 9→12 + empty nest 4)
    assert.equal(b.length, 16 + 16 + 8 + 20);
    assert.equal(b.readUInt32LE(0), b.length);
    assert.equal(b.readUInt16LE(4), RTM_NEWLINK);
    assert.equal(b.readUInt16LE(6), NLM_F_REQUEST | NLM_F_ACK);
    assert.equal(b.readUInt32LE(8), 7);
    assert.deepEqual([b.readUInt16LE(32), b.readUInt16LE(34)], [7, IFLA_IFNAME]);
    assert.equal(b.toString('utf8', 36, 38), 'a0');
    assert.deepEqual([b.readUInt16LE(40), b.readUInt16LE(42)], [20, IFLA_LINKINFO]);
    assert.deepEqual([b.readUInt16LE(56), b.readUInt16LE(58)], [4, IFLA_INFO_DATA]);
  });

  it('refuses an unclosed nest', () => {
    assert.throws(() => new Request(RTM_NEWLINK, 0).ifinfo().nest(IFLA_LINKINFO).bytes(1), /unclosed/);
  });

  it('grows past its first buffer', () => {
    const r = new Request(RTM_NEWLINK, 0).ifinfo();
    for (let i = 0; i < 100; i++) r.string(IFLA_IFNAME, 'x'.repeat(15));
    assert.equal(r.bytes(1).length, 16 + 16 + 100 * 20);
  });

  it('reads the answers in a datagram: an error with its errno, an ack, a reply', () => {
    const msg = (type: number, seq: number, body: Buffer) => {
      const h = Buffer.alloc(16);
      h.writeUInt32LE(16 + body.length, 0);
      h.writeUInt16LE(type, 4);
      h.writeUInt32LE(seq, 8);
      return Buffer.concat([h, body]);
    };
    const errno = (n: number) => {
      const b = Buffer.alloc(20);
      b.writeInt32LE(-n, 0);
      return b;
    };
    const got = readAnswers(
      Buffer.concat([
        msg(NLMSG_ERROR, 1, errno(17)),
        msg(NLMSG_ERROR, 2, errno(0)),
        msg(RTM_NEWLINK, 3, Buffer.alloc(16)),
      ]),
    );
    assert.deepEqual(
      got.map((a) => [a.type, a.seq, a.errno]),
      [
        [NLMSG_ERROR, 1, 17],
        [NLMSG_ERROR, 2, 0],
        [RTM_NEWLINK, 3, undefined],
      ],
    );
    assert.deepEqual(readAnswers(Buffer.alloc(10)), [], 'a short datagram has no message');
  });

  it('writes addresses in network order and MACs as six bytes', () => {
    assert.equal(addressBytes(4, 0x0a000102n).toString('hex'), '0a000102');
    assert.equal(addressBytes(6, (0xfd00n << 112n) | 1n).toString('hex'), `fd00${'0'.repeat(24)}0001`);
    assert.equal(macBytes('02:00:00:00:00:0a').toString('hex'), '02000000000a');
  });
});
