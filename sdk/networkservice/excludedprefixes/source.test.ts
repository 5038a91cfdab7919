import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually } from '../../testing/eventually.js';
import { newFilePrefixSource } from './source.js';

describe('excluded prefixes file', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'nsm-excl-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('reads the file, then again when it is replaced, and keeps the last good list on a bad write', async () => {
    const path = join(dir, 'excluded_prefixes.yaml');
    writeFileSync(path, 'prefixes:\n- 10.96.0.0/12\n');
    const source = newFilePrefixSource({ path, pollMs: 20 });
    try {
      assert.deepEqual(source.current(), ['10.96.0.0/12']);
      // Writers replace the file by rename (a sidecar, kubectl cp).
      writeFileSync(join(dir, 'tmp'), 'prefixes: [10.96.0.0/12, 10.244.0.0/16]\n');
      renameSync(join(dir, 'tmp'), path);
      await eventually(() => assert.deepEqual(source.current(), ['10.96.0.0/12', '10.244.0.0/16']));
      writeFileSync(path, 'prefixes: [not-a-prefix]\n');
      await new Promise((r) => setTimeout(r, 100));
      assert.deepEqual(source.current(), ['10.96.0.0/12', '10.244.0.0/16'], 'a bad file changes nothing');
    } finally {
      source.close();
    }
  });

  it('starts empty without the file and picks it up once it appears', async () => {
    const path = join(dir, 'later.yaml');
    const source = newFilePrefixSource({ path, pollMs: 20 });
    try {
      assert.deepEqual(source.current(), []);
      writeFileSync(path, 'prefixes: [192.168.0.0/16]\n');
      await eventually(() => assert.deepEqual(source.current(), ['192.168.0.0/16']));
    } finally {
      source.close();
    }
  });
});
