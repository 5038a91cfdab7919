import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { HEAP_FLAGS, tuneHeap } from './heap.js';

describe('tuneHeap', () => {
  const run = (given: string[]) => {
    const calls: string[] = [];
    const set = tuneHeap({ given, setFlags: (f) => calls.push(f) });
    assert.deepEqual(set, calls);
    return calls;
  };

  it('sets every flag when the command line sets none', () => {
    assert.deepEqual(
      run(['--max-semi-space-size=1']),
      Object.entries(HEAP_FLAGS).map(([n, v]) => `--${n}=${v}`),
    );
  });

  it('leaves a flag the command line set, in either spelling', () => {
    assert.ok(!run(['--heap-growing-percent=50']).some((f) => f.startsWith('--heap-growing-percent')));
    assert.ok(!run(['--heap_growing_percent=50']).some((f) => f.startsWith('--heap-growing-percent')));
    assert.ok(run(['--heap-growing-percentage=1']).some((f) => f.startsWith('--heap-growing-percent=')));
  });

  it("names flags that this node's V8 knows", () => {
    // v8.setFlagsFromString ignores an unknown name without a word, so a renamed flag would go unnoticed.
    const known = execFileSync(process.execPath, ['--v8-options'], { encoding: 'utf8' });
    for (const name of Object.keys(HEAP_FLAGS)) assert.match(known, new RegExp(`^\\s+--${name} `, 'm'), name);
  });
});
