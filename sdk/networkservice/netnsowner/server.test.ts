import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { getErrorCode } from '../../errors/index.js';
import type { NetnsResolver } from '../../kernel/netns.js';
// The resolver maps file:///var/run/netns/NAME to inode://4/NAME-ino; the peer's pid is this
// process, whose real namespace is compared: so "own" is this process's namespace.
import { ownNetnsInodeURL } from '../../kernel/netns.js';
import { type Peer, withPeer } from '../../tools/unixpeer/index.js';
import * as netnsowner from './index.js';

const OWN = ownNetnsInodeURL();
const resolver: NetnsResolver = {
  resolve: async (url) => ({ path: url, inode: url === 'file:///own' ? OWN : 'inode://4/999' }),
  list: async () => [],
};

const kernel = (inodeURL: string) => ({ cls: 'LOCAL', type: 'KERNEL', parameters: { inodeURL } });
const req = (inodeURL: string) => ({
  connection: { id: 'c', networkService: 's' } as never,
  mechanismPreferences: [kernel(inodeURL)],
});
const unixPeer: Peer = { transport: 'unix', path: '/x.sock', pids: async () => [process.pid] };

function chain() {
  let reached = 0;
  const c = newNetworkServiceChain(netnsowner.newServer({ resolver }), {
    request: async (_ctx, r) => {
      reached++;
      return r.connection!;
    },
    close: async () => {},
  });
  return { c, reached: () => reached };
}

describe('netnsowner server', () => {
  it("passes a request naming the calling process's own namespace", async () => {
    const { c, reached } = chain();
    await c.request(withPeer(background(), unixPeer), req('file:///own'));
    assert.equal(reached(), 1);
  });

  it('refuses another namespace with PERMISSION_DENIED naming it, and stops there', async () => {
    const { c, reached } = chain();
    await assert.rejects(c.request(withPeer(background(), unixPeer), req('file:///other')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
      assert.match(String(e), /"file:\/\/\/other": it is inode:\/\/4\/999, not the caller's namespace/);
      return true;
    });
    assert.equal(reached(), 0);
  });

  it('refuses any namespace from a tcp peer', async () => {
    const { c } = chain();
    const ctx = withPeer(background(), { transport: 'tcp', address: '10.0.0.2:4000' });
    await assert.rejects(c.request(ctx, req('file:///own')), /tcp peer 10\.0\.0\.2:4000 cannot name/);
  });

  it('refuses when the calling process cannot be found', async () => {
    const { c } = chain();
    const lost: Peer = { ...unixPeer, pids: async () => Promise.reject(new Error('peer gone')) };
    await assert.rejects(c.request(withPeer(background(), lost), req('file:///own')), (e: unknown) => {
      assert.equal(getErrorCode(e), status.PERMISSION_DENIED);
      assert.match(String(e), /cannot tell which process is calling \(peer gone\)/);
      return true;
    });
  });

  it('does not check in-process calls (no transport) or requests naming no namespace', async () => {
    const { c, reached } = chain();
    await c.request(background(), req('file:///other'));
    await c.request(withPeer(background(), { transport: 'tcp', address: 'x' }), {
      connection: { id: 'c', networkService: 's' } as never,
      mechanismPreferences: [{ cls: 'REMOTE', type: 'VXLAN', parameters: {} }],
    });
    assert.equal(reached(), 2);
  });
});
