import assert from 'node:assert/strict';
import { MonitorScopeSelector } from '../../../api/gen/networkservice/connection.js';
import { connection } from '../../testing/connections.js';
import { matchesSelector } from './index.js';

const conn = connection({
  id: 'c',
  networkService: 'icmp',
  path: {
    index: 0,
    pathSegments: [
      { name: 'nsc', id: 'id-0', token: 't0' },
      { name: 'nsmgr', id: 'id-1', token: 't1' },
      { name: 'fwd', id: 'id-2', token: 't2' },
    ],
  },
});

const seg = (name: string, id = '', token = '') => ({ name, id, token, metrics: {}, expires: undefined });

describe('monitor matchesSelector', () => {
  const cases: {
    name: string;
    selector: Parameters<typeof MonitorScopeSelector.fromPartial>[0];
    want: boolean;
  }[] = [
    { name: 'an empty selector selects everything', selector: {}, want: true },
    {
      name: 'a listed network service selects',
      selector: { networkServices: ['other', 'icmp'] },
      want: true,
    },
    {
      name: 'an unlisted network service does not select',
      selector: { networkServices: ['other'] },
      want: false,
    },
    {
      name: 'a single segment by name and id selects',
      selector: { pathSegments: [seg('nsmgr', 'id-1')] },
      want: true,
    },
    {
      name: 'a single segment with the wrong id does not select',
      selector: { pathSegments: [seg('nsmgr', 'id-2')] },
      want: false,
    },
    {
      name: 'a contiguous run of segments selects',
      selector: { pathSegments: [seg('nsmgr'), seg('fwd')] },
      want: true,
    },
    {
      name: 'a run in the wrong order does not select',
      selector: { pathSegments: [seg('fwd'), seg('nsmgr')] },
      want: false,
    },
    {
      name: 'a run with a gap does not select',
      selector: { pathSegments: [seg('nsc'), seg('fwd')] },
      want: false,
    },
    {
      name: 'an empty name and id is a wildcard',
      selector: { pathSegments: [seg('nsc'), seg(''), seg('fwd')] },
      want: true,
    },
    {
      name: 'a run longer than the path does not select',
      selector: { pathSegments: [seg(''), seg(''), seg(''), seg('')] },
      want: false,
    },
    { name: 'a segment matches by id alone', selector: { pathSegments: [seg('', 'id-2')] }, want: true },
    {
      name: 'a token, when given, must match',
      selector: { pathSegments: [seg('nsc', '', 'other')] },
      want: false,
    },
    {
      name: 'both service and segments must match',
      selector: { networkServices: ['other'], pathSegments: [seg('nsc')] },
      want: false,
    },
  ];
  for (const c of cases) {
    it(`${c.name}`, () => {
      assert.equal(matchesSelector(conn, MonitorScopeSelector.fromPartial(c.selector)), c.want);
    });
  }

  it('does not select a connection without a path by segments', () => {
    const bare = connection({ id: 'c' });
    assert.equal(
      matchesSelector(bare, MonitorScopeSelector.fromPartial({ pathSegments: [seg('nsc')] })),
      false,
    );
    assert.equal(matchesSelector(bare, MonitorScopeSelector.fromPartial({})), true);
  });
});
