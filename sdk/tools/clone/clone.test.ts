import assert from 'node:assert/strict';
import { Connection } from '../../../api/gen/networkservice/connection.js';
import { cloneShared } from './clone.js';

describe('cloneShared', () => {
  const conn = () =>
    Connection.fromPartial({
      id: 'c1',
      networkService: 'icmp',
      labels: { app: 'a' },
      mechanism: { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } },
      path: {
        index: 1,
        pathSegments: [
          { name: 'nsc', id: 'c1', token: 'x'.repeat(1024), expires: new Date(1_000) },
          { name: 'nsmgr', id: 'c2', token: 'y'.repeat(1024), expires: new Date(2_000) },
        ],
      },
    });

  it('gives a deep copy equal to structuredClone', () => {
    const c = conn();
    assert.deepStrictEqual(cloneShared(c), structuredClone(c));
  });

  it('shares no object, array or Date with the original', () => {
    const c = conn();
    const d = cloneShared(c);
    assert.notEqual(d, c);
    assert.notEqual(d.labels, c.labels);
    assert.notEqual(d.path?.pathSegments, c.path?.pathSegments);
    assert.notEqual(d.path?.pathSegments[0], c.path?.pathSegments[0]);
    assert.notEqual(d.path?.pathSegments[0].expires, c.path?.pathSegments[0].expires);
    d.path?.pathSegments[0].expires?.setTime(5);
    d.labels.app = 'b';
    if (d.mechanism) d.mechanism.parameters.name = 'other';
    assert.equal(c.path?.pathSegments[0].expires?.getTime(), 1_000);
    assert.equal(c.labels.app, 'a');
    assert.equal(c.mechanism?.parameters.name, 'nsm-1');
  });

  it('copies a frozen source into objects that can be changed', () => {
    const d = cloneShared<Connection>(Object.freeze(conn()));
    assert.equal(Object.isFrozen(d), false);
    d.networkService = 'changed';
    assert.equal(d.networkService, 'changed');
  });

  it('copies bytes and other non-plain objects instead of sharing them', () => {
    const src = { b: new Uint8Array([1, 2]), m: new Map([['k', 1]]) };
    const d = cloneShared(src);
    assert.notEqual(d.b, src.b);
    assert.deepStrictEqual([...d.b], [1, 2]);
    assert.notEqual(d.m, src.m);
    assert.equal(d.m.get('k'), 1);
  });
});
