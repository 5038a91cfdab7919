import * as assert from 'node:assert/strict';
import { diffUrls, parseAnnotationsFile, urlKey } from './common.js';

describe('hot-plug client helpers', () => {
  it("reads the kubelet's downward-API annotations file", () => {
    const text = [
      'kubectl.kubernetes.io/last-applied-configuration="{\\"a\\":1}\\n"',
      'networkservicemesh.io="kernel://a/nsm-1,kernel://b/nsm-2?app=x"',
      'kubernetes.io/config.seen="2026-11-30T08:00:00Z"',
      '',
    ].join('\n');
    assert.deepEqual(parseAnnotationsFile(text), {
      'kubectl.kubernetes.io/last-applied-configuration': '{"a":1}\n',
      'networkservicemesh.io': 'kernel://a/nsm-1,kernel://b/nsm-2?app=x',
      'kubernetes.io/config.seen': '2026-11-30T08:00:00Z',
    });
  });

  const cases = [
    {
      name: 'an added NSURL',
      held: ['kernel://a/nsm-1'],
      wanted: 'kernel://a/nsm-1,kernel://b/nsm-2',
      want: { add: ['kernel://b/nsm-2'], remove: [] },
    },
    {
      name: 'a removed NSURL',
      held: ['kernel://a/nsm-1', 'kernel://b/nsm-2'],
      wanted: 'kernel://b/nsm-2',
      want: { add: [], remove: ['kernel://a/nsm-1'] },
    },
    {
      name: 'a changed NSURL (close the old, connect the new)',
      held: ['kernel://a/nsm-1'],
      wanted: 'kernel://a/nsm-1?x=1',
      want: { add: ['kernel://a/nsm-1?x=1'], remove: ['kernel://a/nsm-1'] },
    },
    {
      name: 'an emptied annotation',
      held: ['kernel://a/nsm-1'],
      wanted: '',
      want: { add: [], remove: ['kernel://a/nsm-1'] },
    },
    {
      name: 'no change but blanks',
      held: ['kernel://a/nsm-1'],
      wanted: ' kernel://a/nsm-1 ,',
      want: { add: [], remove: [] },
    },
  ];
  for (const t of cases) {
    it(`diffs ${t.name}`, () => {
      assert.deepEqual(diffUrls(t.held, t.wanted), t.want);
    });
  }

  it('keys an NSURL stably and distinctly', () => {
    assert.equal(urlKey('kernel://a/nsm-1'), urlKey('kernel://a/nsm-1'));
    assert.notEqual(urlKey('kernel://a/nsm-1'), urlKey('kernel://a/nsm-2'));
    assert.match(urlKey('kernel://a/nsm-1'), /^[0-9a-f]{8}$/);
  });
});
