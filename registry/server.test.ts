import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { status } from '@grpc/grpc-js';
import { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background } from '../sdk/core/context.js';
import { getErrorCode } from '../sdk/errors/index.js';
import { newNseRegistryClient } from '../sdk/grpc/registry-client.js';
import { FakeApiServer } from '../sdk/registry/k8s/testing.js';
import { startRegistry } from './server.js';
import { describeRegistryApi } from './testing.js';

const nse = (name: string, extra: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0] = {}) =>
  NetworkServiceEndpoint.fromPartial({
    name,
    url: `unix:///tmp/${name}.sock`,
    networkServiceNames: ['icmp'],
    ...extra,
  });
const _allNse = { networkServiceEndpoint: undefined, watch: false };

function _expectCode(p: Promise<unknown>, code: status, fragment?: string) {
  return assert.rejects(p, (e: unknown) => {
    assert.equal(getErrorCode(e), code, String(e));
    if (fragment) assert.ok(String(e).includes(fragment), `${String(e)} should include ${fragment}`);
    return true;
  });
}

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

describe('registry binary', () => {
  const main = new URL('./main.js', import.meta.url).pathname;

  function run(env: Record<string, string>, onStarted?: (child: ReturnType<typeof spawn>) => void) {
    const child = spawn(process.execPath, [main], { env: { PATH: process.env.PATH, ...env }, stdio: 'pipe' });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => {
      stderr += b.toString();
      if (onStarted && stderr.includes('registry serving')) {
        const f = onStarted;
        onStarted = undefined;
        f(child);
      }
    });
    return new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.on('close', (code) => resolve({ code, stderr })),
    );
  }

  it('exits 2 with one line naming the variable on a bad value', async () => {
    const { code, stderr } = await run({ NSM_EXPIRE_PERIOD: 'abc' });
    assert.equal(code, 2);
    const lines = stderr.trimEnd().split('\n');
    assert.equal(lines.length, 1, stderr);
    assert.match(lines[0], /^registry: NSM_EXPIRE_PERIOD: not a duration .*\(got "abc"\)$/);
  });

  it('serves on a unix socket and exits 0 on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-registry-bin-'));
    const sock = join(dir, 'registry.sock');
    try {
      const { code, stderr } = await run(
        { NSM_LISTEN_ON: `unix://${sock}`, NSM_LOG_LEVEL: 'INFO' },
        (child) => {
          const client = newNseRegistryClient(`unix://${sock}`);
          client
            .register(background(), nse('from-test'))
            .finally(() => client.close())
            .then(
              () => child.kill('SIGTERM'),
              () => child.kill('SIGKILL'),
            );
        },
      );
      assert.equal(code, 0, stderr);
      assert.match(stderr, /registry serving/);
      assert.equal(existsSync(sock), false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
