import assert from 'node:assert/strict';
import { listenerInodes, peerInodeFromSs, socketInodeOfLink, tableHasInode, uidOfPid } from './common.js';

const TABLE = `Num       RefCount Protocol Flags    Type St Inode Path
0000000097e1d36a: 00000002 00000000 00010000 0001 01 7243457 /run/nsm/nsm.io.sock
00000000f2475208: 00000003 00000000 00000000 0001 03 7244112 /run/nsm/nsm.io.sock
00000000f2475209: 00000002 00000000 00010000 0001 01 7244113 /run/other dir/x.sock
00000000f2475210: 00000003 00000000 00000000 0001 03 7244114
`;

describe('unixpeer common', () => {
  it('reads a socket inode from a /proc fd link', () => {
    assert.equal(socketInodeOfLink('socket:[123]'), '123');
    assert.equal(socketInodeOfLink('/dev/null'), undefined);
  });

  it('finds the peer inode of our socket in ss output, reading from the end of the line', () => {
    const out = [
      'u_str ESTAB 0 0 /run/nsm/nsm.io.sock 100 * 101',
      'u_str ESTAB 0 0 /run/a dir/with spaces.sock 200 * 201',
    ].join('\n');
    assert.equal(peerInodeFromSs(out, '100'), '101');
    assert.equal(peerInodeFromSs(out, '200'), '201');
    assert.equal(peerInodeFromSs(out, '101'), undefined, 'a peer inode is not our inode');
    assert.equal(peerInodeFromSs('', '100'), undefined);
  });

  it('lists only listening sockets bound to the path', () => {
    assert.deepEqual(listenerInodes(TABLE, '/run/nsm/nsm.io.sock'), ['7243457']);
    assert.deepEqual(listenerInodes(TABLE, '/run/other dir/x.sock'), ['7244113']);
    assert.deepEqual(listenerInodes(TABLE, '/run/none.sock'), []);
  });

  it('tells whether a unix table lists an inode', () => {
    assert.equal(tableHasInode(TABLE, '7244114'), true);
    assert.equal(tableHasInode(TABLE, '724411'), false);
  });

  it("reads a process's effective uid, and undefined for a process that is gone", async () => {
    assert.equal(await uidOfPid(process.pid), process.geteuid?.());
    assert.equal(await uidOfPid(2 ** 22 + 1), undefined);
  });
});
