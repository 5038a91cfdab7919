import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENV_TABLES } from './env-tables.js';

const README = readFileSync(join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8');

describe('README', () => {
  for (const [binary, table] of Object.entries(ENV_TABLES)) {
    it(`has the current env table of ${binary} (regenerate with npm run env-tables)`, () => {
      assert.ok(README.includes(`#### ${binary}\n\n${table}`), `README env table of ${binary} is stale`);
    });
  }

  it('has exactly the two Quick start commands', () => {
    const quick = README.split('## Quick start')[1]?.split('\n## ')[0] ?? '';
    const commands = quick.split('\n').filter((l) => l.startsWith('npm '));
    assert.deepEqual(commands, ['npm install && npm start', 'npm install && npm test']);
  });
});
