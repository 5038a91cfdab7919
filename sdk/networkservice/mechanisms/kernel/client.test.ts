import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { background } from '../../../core/context.js';
import { newNetworkServiceChain } from '../../../core/next.js';
import { recorder } from '../../../testing/checks.js';
import { request } from '../../../testing/connections.js';
import { mechanism } from '../common.js';
import * as kernel from './index.js';

const own = () => {
  const st = statSync('/proc/self/ns/net', { bigint: true });
  return `inode://${st.dev}/${st.ino}`;
};

async function prefsAfter(
  client: ReturnType<typeof kernel.newClient>,
  prefs = [] as ReturnType<typeof mechanism>[],
) {
  const rec = recorder();
  await newNetworkServiceChain(client, rec).request(background(), request({ id: 'a' }, prefs));
  return rec.calls[0].request!.mechanismPreferences;
}

describe('kernel mechanism client', () => {
  it('offers KERNEL with its own network namespace by default', async () => {
    assert.deepEqual(await prefsAfter(kernel.newClient()), [
      mechanism('LOCAL', 'KERNEL', { inodeURL: own() }),
    ]);
  });

  it('offers the interface name and namespace it was given', async () => {
    const prefs = await prefsAfter(
      kernel.newClient({ interfaceName: 'nsm-1', inodeURL: 'file:///proc/42/ns/net' }),
    );
    assert.deepEqual(prefs, [
      mechanism('LOCAL', 'KERNEL', { inodeURL: 'file:///proc/42/ns/net', name: 'nsm-1' }),
    ]);
  });

  it('fills in an existing KERNEL preference without overriding what it says', async () => {
    const existing = mechanism('LOCAL', 'KERNEL', { name: 'theirs' });
    const prefs = await prefsAfter(kernel.newClient({ interfaceName: 'mine', inodeURL: 'inode://1/2' }), [
      mechanism('REMOTE', 'VXLAN'),
      existing,
    ]);
    assert.equal(prefs.length, 2);
    assert.deepEqual(prefs[1].parameters, { name: 'theirs', inodeURL: 'inode://1/2' });
  });

  it('refuses an invalid interface name when it is built', () => {
    assert.throws(() => kernel.newClient({ interfaceName: 'much-too-long-name' }), /at most 15/);
  });
});
