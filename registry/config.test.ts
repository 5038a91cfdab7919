import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { envTable, loadConfig } from '../sdk/tools/config/index.js';
import { registrySchema } from './config.js';

/** Table rows as trimmed cells, separator rows as "---", so column padding does not matter. */
function cells(markdown: string): string {
  return markdown
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .map((l) =>
      l
        .split(/(?<!\\)\|/)
        .map((c) => c.trim())
        .map((c) => (/^:?-+:?$/.test(c) ? '---' : c))
        .join('|'),
    )
    .join('\n');
}

describe('registry config', () => {
  it('has upstream defaults', () => {
    assert.deepEqual(loadConfig(registrySchema, {}), {
      name: 'registry',
      listenOn: 'tcp://:5002',
      expirePeriodMs: 60_000,
      backend: 'memory',
      k8sNamespace: undefined,
      authzPolicyFile: undefined,
      spiffeEndpointSocket: undefined,
      certFile: undefined,
      keyFile: undefined,
      bundleFile: undefined,
      insecure: false,
      socketGroup: undefined,
      logLevel: 'info',
      trace: [],
      metricsListenOn: undefined,
      otelEndpoint: undefined,
    });
  });

  it('accepts a unix socket and upper-case log levels', () => {
    const c = loadConfig(registrySchema, {
      NSM_LISTEN_ON: 'unix:///run/registry.sock',
      NSM_LOG_LEVEL: 'DEBUG',
    });
    assert.equal(c.listenOn, 'unix:///run/registry.sock');
    assert.equal(c.logLevel, 'debug');
  });

  it('refuses a zero expire period', () => {
    assert.throws(
      () => loadConfig(registrySchema, { NSM_EXPIRE_PERIOD: '0s' }),
      /NSM_EXPIRE_PERIOD: must be at least/,
    );
  });

  it('selects the store by NSM_REGISTRY_BACKEND and refuses an unknown one', () => {
    const c = loadConfig(registrySchema, { NSM_REGISTRY_BACKEND: 'K8S', NSM_K8S_NAMESPACE: 'nsm-system' });
    assert.equal(c.backend, 'k8s');
    assert.equal(c.k8sNamespace, 'nsm-system');
    assert.throws(
      () => loadConfig(registrySchema, { NSM_REGISTRY_BACKEND: 'etcd' }),
      /NSM_REGISTRY_BACKEND: must be one of memory, k8s/,
    );
  });

  it('is documented in the README env table', () => {
    // dist/registry/config.test.js -> registry/README.md; compared cell by cell, so padding may differ
    const readme = readFileSync(new URL('../../registry/README.md', import.meta.url), 'utf8');
    const want = envTable(registrySchema);
    assert.ok(cells(readme).includes(cells(want)), `registry/README.md must contain:\n${want}`);
  });
});
