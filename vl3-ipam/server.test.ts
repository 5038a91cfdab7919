import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { newPrefixClient } from '../examples/vl3/prefix-client.js';
import { eventually } from '../sdk/testing/eventually.js';
import { startVl3Ipam, type Vl3Ipam } from './server.js';

describe('vl3-ipam over gRPC', () => {
  let dir: string;
  let ipam: Vl3Ipam;

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-vl3ipam-'));
    ipam = await startVl3Ipam({
      listenOn: `unix://${join(dir, 'ipam.sock')}`,
      prefix: '172.16.0.0/16',
      sliceLength: 24,
      leaseMs: 60_000,
    });
  });

  afterEach(async () => {
    await ipam.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives each replica its own slice, and a replica that comes back under its name the same one', async () => {
    const a = newPrefixClient({ url: ipam.url, owner: 'vl3-a' });
    const b = newPrefixClient({ url: ipam.url, owner: 'vl3-b' });
    try {
      const [sa, sb] = [await a.first(5_000), await b.first(5_000)];
      assert.notEqual(sa, sb);
      assert.match(sa, /^172\.16\.\d+\.0\/24$/);
      a.close(); // the replica dies: its stream ends
      await eventually(() => assert.ok(ipam.pool.entries().find((e) => e.owner === 'vl3-a')?.reserved));
      const c = newPrefixClient({ url: ipam.url, owner: 'vl3-c' });
      const again = newPrefixClient({ url: ipam.url, owner: 'vl3-a' });
      try {
        assert.notEqual(await c.first(5_000), sa, 'a reserved slice is not given to another replica');
        assert.equal(await again.first(5_000), sa, 'the restarted replica gets its slice back');
      } finally {
        c.close();
        again.close();
      }
    } finally {
      a.close();
      b.close();
    }
  });
});
