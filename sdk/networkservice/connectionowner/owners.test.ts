import assert from 'node:assert/strict';
import { connection, pathOf } from '../../testing/connections.js';
import { ConnectionOwners } from './owners.js';

/** Our (server-side) view of connection `n`: the caller's segment, then ours. */
const ours = (n: number) => {
  const c = connection(pathOf([`nsc-${n}`, 'nsmgr']));
  return c;
};

describe('connectionowner owners', () => {
  it('finds a connection by its id or by the caller segment it carries', () => {
    const o = new ConnectionOwners(() => true);
    o.record(ours(1), 'tcp:a');
    const onlyCaller = connection({
      id: 'made-up',
      path: { index: 1, pathSegments: ours(1).path!.pathSegments },
    });
    onlyCaller.path!.pathSegments = onlyCaller.path!.pathSegments.slice(0, 1);
    assert.equal(o.resolve(ours(1)), 'nsmgr-id-1');
    assert.equal(o.resolve(onlyCaller), 'nsmgr-id-1');
    o.forget('nsmgr-id-1');
    assert.equal(o.resolve(onlyCaller), undefined);
  });

  it('sweeps owners of connections the hop no longer holds, after two sweeps', () => {
    const held = new Set<string>();
    const o = new ConnectionOwners((id) => held.has(id));
    const stale = connection({
      id: 'stale',
      path: {
        index: 1,
        pathSegments: [
          { name: 'x', id: 'x' },
          { name: 'nsmgr', id: 'stale' },
        ],
      },
    });
    o.record(stale, 'tcp:a');
    for (let i = 0; i < 63; i++) {
      const c = connection({
        id: `c${i}`,
        path: {
          index: 1,
          pathSegments: [
            { name: `n${i}`, id: `n${i}` },
            { name: 'nsmgr', id: `c${i}` },
          ],
        },
      });
      held.add(c.id);
      o.record(c, 'tcp:a');
    }
    assert.equal(o.ownerOf('stale'), 'tcp:a', 'marked at the first sweep, not dropped');
    for (let i = 63; i < 128; i++) {
      const c = connection({
        id: `c${i}`,
        path: {
          index: 1,
          pathSegments: [
            { name: `n${i}`, id: `n${i}` },
            { name: 'nsmgr', id: `c${i}` },
          ],
        },
      });
      held.add(c.id);
      o.record(c, 'tcp:a');
    }
    assert.equal(o.ownerOf('stale'), undefined);
    assert.equal(o.ownerOf('c0'), 'tcp:a');
    assert.equal(o.size, 128);
  });
});
