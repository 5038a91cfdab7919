import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isNsmError } from '../sdk/errors/index.js';
import { findSandboxes, resolveTargets } from './targets.js';

describe('nsmctl targets', () => {
  let root: string;
  const sandbox = (id: string, nodes: number, ageS: number) => {
    for (let i = 1; i <= nodes; i++) {
      mkdirSync(join(root, id, `node${i}`), { recursive: true });
      writeFileSync(join(root, id, `node${i}`, 'nsm.io.sock'), '');
    }
    const t = new Date(Date.now() - ageS * 1000);
    utimesSync(join(root, id), t, t);
  };
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'nsmctl-targets-'));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('takes --nsmgr over NSM_CONNECT_TO, and --registry over NSM_REGISTRY_URL', () => {
    const env = { NSM_CONNECT_TO: 'unix:///a.sock', NSM_REGISTRY_URL: 'tcp://10.0.0.1:5002' };
    assert.deepEqual(resolveTargets({}, env, root), {
      nsmgrs: ['unix:///a.sock'],
      registry: 'tcp://10.0.0.1:5002',
      source: 'NSM_CONNECT_TO',
    });
    const t = resolveTargets({ nsmgr: '/b.sock,tcp://10.0.0.2:5001', registry: 'tcp://r:1' }, env, root);
    assert.deepEqual(t.nsmgrs, ['unix:///b.sock', 'tcp://10.0.0.2:5001']);
    assert.equal(t.registry, 'tcp://r:1');
  });

  it("asks the first nsmgr's registry proxy when no registry is given", () => {
    assert.equal(resolveTargets({ nsmgr: 'unix:///a.sock' }, {}, root).registry, 'unix:///a.sock');
  });

  it('finds the newest sandbox mesh on this machine, every node of it', () => {
    sandbox('nsmold', 2, 60);
    sandbox('nsmnew', 3, 1);
    mkdirSync(join(root, 'nsmempty')); // no sockets: a sandbox being torn down
    assert.deepEqual(findSandboxes(root), ['nsmnew', 'nsmold']);
    const t = resolveTargets({}, {}, root);
    assert.equal(t.sandbox, 'nsmnew');
    assert.deepEqual(
      t.nsmgrs,
      [1, 2, 3].map((i) => `unix://${join(root, 'nsmnew', `node${i}`, 'nsm.io.sock')}`),
    );
    assert.equal(resolveTargets({ sandbox: 'nsmold' }, {}, root).nsmgrs.length, 2);
  });

  it("prefers the demo's sandbox over newer ones the tests make", () => {
    sandbox('nsmdemo', 2, 60);
    writeFileSync(join(root, 'nsmdemo', 'demo'), '');
    sandbox('nsmtest', 2, 1);
    assert.equal(resolveTargets({}, {}, root).sandbox, 'nsmdemo');
  });

  it('rejects what is not a URL and a sandbox that is not there, naming the flag', () => {
    assert.throws(
      () => resolveTargets({ nsmgr: 'host:1' }, {}, root),
      (e) => isNsmError(e) && /^--nsmgr: "host:1" is not a URL/.test(e.message),
    );
    assert.throws(
      () => resolveTargets({}, { NSM_CONNECT_TO: 'nope' }, root),
      (e) => isNsmError(e) && /^NSM_CONNECT_TO: "nope"/.test(e.message),
    );
    assert.throws(
      () => resolveTargets({ sandbox: 'nsmgone' }, {}, root),
      (e) => isNsmError(e) && /^--sandbox: no nsmgr socket under/.test(e.message),
    );
  });
});
