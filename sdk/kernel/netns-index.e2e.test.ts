// inode:// lookups of named namespaces on a node with many pods (root only): the resolver indexes
// the identities of named namespaces and stats only names it has not seen, so it must still find a
// namespace added after the index was built, and must not answer with a stale identity when a name
// was deleted and re-created.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { netnsInodeURL, newNetnsResolver } from './netns.js';
import { isRoot, TestNamespaces } from './testing.js';

const run = promisify(execFile);

describe('netns resolution: the index of named namespaces', function () {
  this.timeout(20_000);
  const spaces = new TestNamespaces();

  before(function () {
    if (!isRoot()) this.skip();
  });

  after(() => spaces.cleanup());

  it('finds namespaces added after an earlier lookup, and a name re-created', async () => {
    const first = await spaces.add('idx');
    const r = newNetnsResolver(); // its index starts with this lookup
    assert.equal((await r.resolve(netnsInodeURL(first.path))).path, first.path);
    const later = await spaces.add('later');
    assert.equal((await r.resolve(netnsInodeURL(later.path))).path, later.path, 'new names are read');
    // Same name, another namespace: the index has the old identity and must not answer with it.
    await run('ip', ['netns', 'del', later.name]);
    await run('ip', ['netns', 'add', later.name]);
    const again = netnsInodeURL(later.path);
    assert.deepEqual(await r.resolve(again), { path: later.path, inode: again });
  });
});
