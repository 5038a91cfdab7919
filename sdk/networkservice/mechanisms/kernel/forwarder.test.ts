import assert from 'node:assert/strict';
import type { NetnsResolver } from '../../../kernel/index.js';
import { connection } from '../../../testing/connections.js';
import { mechanism } from '../common.js';
import { newForwarderMechanism } from './forwarder.js';

/** Resolves every URL to a fixed path and remembers what it was asked. */
function resolver(): NetnsResolver & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    async resolve(url) {
      asked.push(url);
      return { path: '/var/run/netns/pod', inode: 'inode://4/1' };
    },
    async list() {
      return [];
    },
  };
}

describe('kernel forwarder mechanism', () => {
  it('offers KERNEL to a local endpoint (unix socket) only', () => {
    const kernel = newForwarderMechanism({ resolver: resolver(), vethMtu: 1500 });
    assert.deepEqual(kernel.offer('unix:///nse.sock'), mechanism('LOCAL', 'KERNEL', {}));
    assert.equal(kernel.offer('tcp://10.0.0.2:5001'), undefined);
  });

  it('resolves the namespace with the resolver it was given and names the interface', async () => {
    const r = resolver();
    const kernel = newForwarderMechanism({ resolver: r, vethMtu: 1500 });
    const got = await kernel.accept(
      connection({ id: 'c', networkService: 'icmp' }),
      mechanism('LOCAL', 'KERNEL', { inodeURL: 'inode://4/1' }),
      undefined,
    );
    assert.deepEqual(r.asked, ['inode://4/1']);
    assert.deepEqual(got.netns, { path: '/var/run/netns/pod' });
    assert.match(got.mechanism.parameters.name, /^icmp-[a-z0-9]{4}$/);
    assert.equal(got.reserved, false);
  });

  it('refuses a KERNEL mechanism without inodeURL before resolving anything', async () => {
    const r = resolver();
    const kernel = newForwarderMechanism({ resolver: r, vethMtu: 1500 });
    await assert.rejects(
      kernel.accept(connection(), mechanism('LOCAL', 'KERNEL', { name: 'nsm-1' }), undefined),
      (e: Error & { code?: number }) => e.code === 3 && /"inodeURL" is missing/.test(e.message),
    );
    assert.deepEqual(r.asked, []);
  });

  it('refuses to be built without a resolver', () => {
    assert.throws(
      () =>
        newForwarderMechanism({ vethMtu: 1500 } as unknown as Parameters<typeof newForwarderMechanism>[0]),
      /a netns resolver is required/,
    );
  });
});
