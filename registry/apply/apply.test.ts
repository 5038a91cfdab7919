import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { background } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../../sdk/grpc/registry-client.js';
import { newFinder } from '../../sdk/networkservice/discover/index.js';
import { startRegistry } from '../server.js';
import { applyFiles } from './apply.js';

const CHAIN = `apiVersion: networkservicemesh.io/v1
kind: NetworkService
metadata: {name: chain}
spec:
  payload: IP
  matches:
    - source_selector: {app: firewall}
      routes: [{destination_selector: {app: responder}}]
    - routes: [{destination_selector: {app: firewall}}]
`;

describe('nsm-apply', () => {
  it('registers the services of a file, and a bad file changes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'nsm-apply-'));
    const url = `unix://${join(dir, 'r.sock')}`;
    const registry = await startRegistry({ listenOn: url, expirePeriodMs: 60_000 });
    const pool = new ClientPool();
    try {
      writeFileSync(join(dir, 'chain.yaml'), CHAIN);
      writeFileSync(join(dir, 'bad.yaml'), 'spec:\n  name: other\n  matchs: []\n');
      const applied = await applyFiles({
        registryURL: url,
        files: [join(dir, 'chain.yaml')],
        timeoutMs: 5_000,
      });
      assert.deepEqual(
        applied.map((n) => n.name),
        ['chain'],
      );
      await assert.rejects(
        applyFiles({ registryURL: url, files: [join(dir, 'bad.yaml')], timeoutMs: 5_000 }),
        /bad\.yaml:3:3: spec\.matchs: unknown field/,
      );
      const finder = newFinder(newNsRegistryClient(url, { pool }), newNseRegistryClient(url, { pool }), {
        cacheTtlMs: 0,
      });
      const ns = await finder.networkService(background(), 'chain');
      assert.equal(ns?.payload, 'IP');
      assert.deepEqual(ns?.matches[0].routes[0].destinationSelector, { app: 'responder' });
      assert.equal(await finder.networkService(background(), 'other'), undefined);
    } finally {
      await pool.close();
      await registry.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
