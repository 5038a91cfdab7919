import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { getErrorCode } from '../sdk/errors/index.js';
import { FakeApiServer } from '../sdk/registry/k8s/testing.js';
import { startRegistry } from './server.js';
import { describeRegistryApi } from './testing.js';

describeRegistryApi('memory', async () => ({ backend: 'memory' }));
// The same tests on the k8s store against a fake apiserver; test/k8s/registry.test.ts runs them on a real one.
describeRegistryApi('k8s, fake apiserver', async () => {
  const fake = new FakeApiServer();
  return { backend: 'k8s', k8s: { api: (plural) => fake.api(plural) } };
});

describe('registry with the k8s backend', () => {
  it('does not serve until it has listed, and fails to start with UNAVAILABLE when it cannot', async () => {
    const fake = new FakeApiServer();
    fake.failures.set('list networkserviceendpoints', { code: 503, times: 1000 });
    const dir = mkdtempSync(join(tmpdir(), 'nsm-registry-'));
    try {
      await assert.rejects(
        startRegistry({
          listenOn: `unix://${join(dir, 'r.sock')}`,
          backend: 'k8s',
          k8s: { api: (p) => fake.api(p), initialBackoffMs: 10 },
          readyTimeoutMs: 300,
        }),
        (e: unknown) => {
          assert.equal(getErrorCode(e), status.UNAVAILABLE);
          assert.match(String(e), /no list from the Kubernetes API within 0.3 s: injected 503 on list/);
          return true;
        },
      );
      assert.equal(existsSync(join(dir, 'r.sock')), false, 'never served');
      assert.equal(fake.openWatches, 0, 'the informers were stopped');
      assert.ok(
        fake.calls.filter((c) => c.startsWith('list networkserviceendpoints')).length > 1,
        'it retried',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('registry with oversized input', () => {
  it('answers a 100 kB name at once (INVALID_ARGUMENT) and the connection keeps serving', async () => {
    const { newNseRegistryClient } = await import('../sdk/grpc/registry-client.js');
    const { background, withTimeout } = await import('../sdk/core/context.js');
    const { NetworkServiceEndpoint } = await import('../api/gen/registry/registry.js');
    const dir = mkdtempSync(join(tmpdir(), 'nsm-registry-'));
    const url = `unix://${join(dir, 'r.sock')}`;
    const registry = await startRegistry({ listenOn: url });
    const client = newNseRegistryClient(url);
    const { ctx, cancel } = withTimeout(background(), 5_000);
    try {
      const huge = NetworkServiceEndpoint.fromPartial({ name: 'x'.repeat(100_000), url: 'tcp://10.0.0.1:1' });
      await assert.rejects(client.register(ctx, huge), (e: unknown) => {
        assert.equal(getErrorCode(e), status.INVALID_ARGUMENT, String(e).slice(0, 300));
        assert.match(String(e), /name: longer than 253 characters/);
        return true;
      });
      // The trailer carrying the answer was small enough to arrive: the same channel still works.
      await client.register(
        ctx,
        NetworkServiceEndpoint.fromPartial({ name: 'fine', url: 'tcp://10.0.0.1:1' }),
      );
    } finally {
      cancel();
      client.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
