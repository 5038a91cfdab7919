import assert from 'node:assert/strict';
import type { Connection } from '../../../api/gen/networkservice/connection.js';
import { connection, pathOf } from '../../testing/connections.js';
import { updatePath } from './index.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

interface Case {
  name: string;
  conn: Connection;
  /** Segment names after the update. */
  wantNames: string[];
  wantIndex: number;
  /** Return value: the caller's index. */
  wantCaller: number;
  /** Expected conn.id: a literal, 'new' (a fresh uuid) or 'segment' (a new id for a taken-over segment). */
  wantId: string;
}

describe('updatepath updatePath', () => {
  const cases: Case[] = [
    {
      name: 'adds our segment at index 0 to an empty path, keeping the connection id',
      conn: connection({ id: 'conn-1' }),
      wantNames: ['me'],
      wantIndex: 0,
      wantCaller: 0,
      wantId: 'conn-1',
    },
    {
      name: 'adds our segment with a new id when the connection has none',
      conn: connection({ id: '' }),
      wantNames: ['me'],
      wantIndex: 0,
      wantCaller: 0,
      wantId: 'new',
    },
    {
      name: 'keeps the current segment when it is ours (a refresh)',
      conn: connection({ ...pathOf(['nsc', 'me'], 1), id: 'whatever' }),
      wantNames: ['nsc', 'me'],
      wantIndex: 1,
      wantCaller: 1,
      wantId: 'me-id-1',
    },
    {
      name: 'appends a segment after the caller',
      conn: connection(pathOf(['nsc'])),
      wantNames: ['nsc', 'me'],
      wantIndex: 1,
      wantCaller: 0,
      wantId: 'new',
    },
    {
      name: 'reuses the next segment when it already has our name',
      conn: connection(pathOf(['nsc', 'me', 'nse'], 0)),
      wantNames: ['nsc', 'me', 'nse'],
      wantIndex: 1,
      wantCaller: 0,
      wantId: 'me-id-1',
    },
    {
      // Upstream renames that one segment and keeps the rest; the rest then names connections of
      // the old hop's caller, which connectionowner rightly refuses to hand to the new one.
      name: 'drops the rest of the path when the next segment names another hop (a replica, a reselect)',
      conn: connection(pathOf(['nsc', 'old-nsmgr', 'nse'], 0)),
      wantNames: ['nsc', 'me'],
      wantIndex: 1,
      wantCaller: 0,
      wantId: 'new',
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const before = structuredClone(c.conn);
      const caller = updatePath(c.conn, 'me');
      assert.deepEqual(
        c.conn.path?.pathSegments.map((s) => s.name),
        c.wantNames,
      );
      assert.equal(c.conn.path?.index, c.wantIndex);
      assert.equal(caller, c.wantCaller);
      const current = c.conn.path!.pathSegments[c.wantIndex];
      assert.equal(c.conn.id, current.id, 'conn.id is the current segment id');
      if (c.wantId === 'new') {
        assert.match(c.conn.id, UUID);
        assert.ok(!before.path?.pathSegments.some((s) => s.id === c.conn.id));
      } else if (c.wantId === 'segment') {
        assert.match(c.conn.id, UUID);
        assert.notEqual(
          c.conn.id,
          before.path?.pathSegments[c.wantIndex].id,
          'a taken-over segment gets a new id',
        );
      } else {
        assert.equal(c.conn.id, c.wantId);
      }
    });
  }

  const invalid: { name: string; conn: Connection; want: RegExp }[] = [
    {
      name: 'refuses a path index past the end',
      conn: connection({
        id: 'nsc-id-0',
        path: { index: 3, pathSegments: [{ name: 'nsc', id: 'nsc-id-0' }] },
      }),
      want: /path.index 3 is out of range: the path has 1 segments/,
    },
    {
      name: 'refuses a connection id that is not the current segment id',
      conn: connection({ ...pathOf(['nsc']), id: 'forged' }),
      want: /connection id "forged" does not match the id "nsc-id-0" of the current path segment 0/,
    },
  ];
  for (const c of invalid) {
    it(c.name, () => {
      assert.throws(
        () => updatePath(c.conn, 'me'),
        (e: Error & { code?: number }) => {
          assert.equal(e.code, 3);
          assert.match(e.message, c.want);
          return true;
        },
      );
    });
  }

  it('is idempotent for the same hop', () => {
    const conn = connection(pathOf(['nsc']));
    updatePath(conn, 'me');
    const once = structuredClone(conn);
    updatePath(conn, 'me');
    assert.deepEqual(conn, once);
  });
});
