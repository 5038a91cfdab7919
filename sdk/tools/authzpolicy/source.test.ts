import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../testing/eventually.js';
import { openAuthzPolicy } from './config.js';
import { openPolicyFile } from './source.js';

const ID = 'spiffe://example.org/client';
const allowing = (service: string) => `allow:\n  - spiffeID: ${ID}\n    request: [${service}]\n`;

describe('authzpolicy file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-authz-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file, again when it is replaced, and keeps the last good policy on a bad write', async () => {
    const path = join(dir, 'policy.yaml');
    writeFileSync(path, allowing('a'));
    const source = openPolicyFile({ path, pollMs: 20 });
    try {
      assert.ok(source.current().allows(ID, 'request', 'a'));
      writeFileSync(join(dir, 'tmp'), allowing('b'));
      renameSync(join(dir, 'tmp'), path);
      await eventually(() => assert.ok(source.current().allows(ID, 'request', 'b')));
      assert.ok(!source.current().allows(ID, 'request', 'a'), 'the old rule is gone');
      writeFileSync(path, 'allow:\n  - spiffeID: nope\n');
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(source.current().allows(ID, 'request', 'b'), 'a bad file changes nothing');
      rmSync(path);
      await new Promise((r) => setTimeout(r, 100));
      assert.ok(source.current().allows(ID, 'request', 'b'), 'a missing file changes nothing');
    } finally {
      source.close();
    }
  });

  it('fails at start with one line naming the variable, file, line and field', () => {
    const path = join(dir, 'bad.yaml');
    writeFileSync(path, 'allow:\n  - spiffeID: spiffe://a/b\n    registerEndpoint: [x]\n');
    assert.throws(
      () => openAuthzPolicy(path),
      new RegExp(`NSM_AUTHZ_POLICY_FILE: ${path}:3: allow\\[0\\]\\.registerEndpoint: unknown field`),
    );
    assert.throws(
      () => openAuthzPolicy(join(dir, 'missing.yaml')),
      /NSM_AUTHZ_POLICY_FILE: .*missing\.yaml: cannot read/,
    );
    assert.equal(openAuthzPolicy(undefined), undefined, 'no file: no policy');
  });
});
