import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DAEMON_ENV } from '../sandbox/launch.js';
import { MALLOC_TUNABLES } from './malloc.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', '..');

describe('MALLOC_TUNABLES', () => {
  it('is what the sandbox and the Dockerfile start the daemons with', () => {
    assert.equal(DAEMON_ENV.GLIBC_TUNABLES, MALLOC_TUNABLES);
    const dockerfile = readFileSync(join(ROOT, 'deploy', 'Dockerfile'), 'utf8');
    assert.ok(dockerfile.includes(`ENV GLIBC_TUNABLES=${MALLOC_TUNABLES}\n`), 'deploy/Dockerfile sets it');
  });

  it("names tunables this machine's glibc knows", function () {
    // glibc ignores an unknown tunable without a word, so a typo would go unnoticed.
    let known: string;
    try {
      known = execFileSync('/lib64/ld-linux-x86-64.so.2', ['--list-tunables'], { encoding: 'utf8' });
    } catch {
      this.skip(); // not glibc on x86-64, or older than 2.33
    }
    for (const kv of MALLOC_TUNABLES.split(':')) {
      const name = kv.split('=')[0];
      assert.match(known, new RegExp(`^${name.replaceAll('.', '\\.')}:`, 'm'), name);
    }
  });
});
