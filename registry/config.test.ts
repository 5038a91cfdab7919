import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { envTable, loadConfig } from '../sdk/tools/config/index.js';
import { registrySchema } from './config.js';

describe('registry config', () => {
  it('has upstream defaults', () => {
    assert.deepEqual(loadConfig(registrySchema, {}), {
      name: 'registry',
      listenOn: 'tcp://:5002',
      expirePeriodMs: 60_000,
      logLevel: 'info',
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

  it('is documented in the README env table', () => {
    // dist/registry/config.test.js -> registry/README.md
    const readme = readFileSync(new URL('../../registry/README.md', import.meta.url), 'utf8');
    assert.ok(
      readme.includes(envTable(registrySchema)),
      `registry/README.md must contain:\n${envTable(registrySchema)}`,
    );
  });
});
