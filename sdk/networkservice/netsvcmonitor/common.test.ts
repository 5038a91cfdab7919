import assert from 'node:assert/strict';
import type { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { ns, nse } from '../../testing/connections.js';
import { mustMove, type Tracked } from './common.js';

const NOW = 1_000_000;
const labelled = (name: string, labels: Record<string, string>, expiresAt?: number) =>
  nse(name, {
    networkServiceNames: ['dyn'],
    networkServiceLabels: { dyn: { labels } },
    expirationTime: expiresAt === undefined ? undefined : new Date(expiresAt),
  });
const selecting = (version: string, source?: Record<string, string>) =>
  ns('dyn', { matches: [{ sourceSelector: source ?? {}, routes: [{ destinationSelector: { version } }] }] });
const onA: Tracked = { id: 'c', networkService: 'dyn', endpoint: 'a', labels: { app: 'nsc' } };

describe('netsvcmonitor mustMove', () => {
  const cases: {
    name: string;
    ns: NetworkService | undefined;
    nses: NetworkServiceEndpoint[];
    want: boolean;
  }[] = [
    {
      name: 'stays while the service still selects the endpoint',
      ns: selecting('a'),
      nses: [labelled('a', { version: 'a' })],
      want: false,
    },
    {
      name: 'moves when the service now selects other labels',
      ns: selecting('b'),
      nses: [labelled('a', { version: 'a' }), labelled('b', { version: 'b' })],
      want: true,
    },
    {
      name: 'moves when the endpoint registered again with other labels',
      ns: selecting('a'),
      nses: [labelled('a', { version: 'old' }), labelled('b', { version: 'a' })],
      want: true,
    },
    {
      name: 'moves when the match for the client labels selects nothing any more',
      ns: selecting('a', { app: 'other' }),
      nses: [labelled('a', { version: 'a' })],
      want: true,
    },
    {
      name: 'stays when the service is unknown (registry restarting)',
      ns: undefined,
      nses: [labelled('a', { version: 'x' })],
      want: false,
    },
    {
      name: 'stays when the endpoint is unknown (dying: heal handles it)',
      ns: selecting('b'),
      nses: [labelled('b', { version: 'b' })],
      want: false,
    },
    {
      name: 'stays when the endpoint entry expired (not a label change)',
      ns: selecting('b'),
      nses: [labelled('a', { version: 'a' }, NOW - 1)],
      want: false,
    },
    {
      name: 'stays when the service has no matches (every endpoint serves)',
      ns: ns('dyn'),
      nses: [labelled('a', {})],
      want: false,
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(mustMove(onA, c.ns, c.nses, NOW), c.want);
    });
  }
});
