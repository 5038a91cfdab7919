import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { background, type Context } from '../sdk/core/context.js';
import type { NseRegistry, NsRegistry } from '../sdk/core/types.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { addRegistryServices } from '../sdk/grpc/registry-server.js';
import { type Served, serve } from '../sdk/grpc/server.js';
import { request } from '../sdk/testing/connections.js';
import { eventually } from '../sdk/testing/eventually.js';
import { verifyNoLeaks } from '../sdk/testing/leaks.js';
import { startNsmgr } from './server.js';

/** A registry whose Finds hang until the caller goes away (records each Find's context). */
function hangingRegistry() {
  const finds: Context[] = [];
  const hang = (ctx: Context) =>
    new Promise<void>((resolve) => {
      finds.push(ctx);
      ctx.signal.addEventListener('abort', () => resolve());
    });
  const unused = async () => {
    throw new Error('not used in this test');
  };
  const ns: NsRegistry = { register: unused, unregister: unused, find: hang };
  const nse: NseRegistry = { register: unused, unregister: unused, find: hang };
  return { ns, nse, finds };
}

describe('nsmgr', () => {
  let dir: string;
  let registry: Served;
  let pool: ClientPool;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-nsmgr-test-'));
    pool = new ClientPool();
  });
  afterEach(async () => {
    await pool.close();
    await registry?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  verifyNoLeaks(3_000);

  it('cancels requests in flight when it closes (down to the registry call they wait on)', async () => {
    const reg = hangingRegistry();
    registry = await serve({
      listenOn: [`unix://${join(dir, 'registry.sock')}`],
      register: (s, ctx) => addRegistryServices(s, reg, ctx),
    });
    const nsmgr = await startNsmgr({
      name: 'nsmgr-test',
      listenOn: [`unix://${join(dir, 'nsm.sock')}`],
      publicURL: 'tcp://127.0.0.1:1',
      registryURL: registry.urls[0],
      maxTokenLifetimeMs: 60_000,
      forwarderServiceName: 'forwarder',
    });
    const pending = pool.request(background(), nsmgr.urls[0], request({ id: 'in-flight' }));
    pending.catch(() => {}); // asserted below
    // discoverforwarder asks the registry for forwarders and the service: both Finds hang.
    await eventually(() => assert.ok(reg.finds.length >= 1));

    const started = Date.now();
    await nsmgr.close();
    assert.ok(Date.now() - started < 1_500, `closed in ${Date.now() - started} ms`);
    await assert.rejects(pending, /failed to request at unix:/);
    await eventually(() =>
      assert.ok(
        reg.finds.every((c) => c.signal.aborted),
        'registry Finds cancelled',
      ),
    );
  });
});
