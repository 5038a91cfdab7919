import assert from 'node:assert/strict';
import type { Match, NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { isSubset, type Labels, matchEndpoints, matchForwarders, selectEndpoints } from './match-endpoint.js';

const SERVICE = 'my-service';

function nse(name: string, labels?: Labels, service = SERVICE): NetworkServiceEndpoint {
  return {
    name,
    networkServiceNames: [service],
    networkServiceLabels: labels ? { [service]: { labels } } : {},
    url: `tcp://${name}`,
    expirationTime: undefined,
    initialRegistrationTime: undefined,
    pathIds: [],
  };
}

function match(m: Partial<Match>): Match {
  return { sourceSelector: {}, routes: [], fallthrough: false, metadata: undefined, ...m };
}

function route(destinationSelector: Labels) {
  return { destinationSelector, weight: 0 };
}

function service(matches: Match[]): NetworkService {
  return { name: SERVICE, payload: 'ETHERNET', matches, pathIds: [] };
}

const red = nse('nse-red', { color: 'red', nodeName: 'node-1' });
const blue = nse('nse-blue', { color: 'blue', nodeName: 'node-2' });
const green = nse('nse-green', { color: 'green', nodeName: 'node-1' });
const bare = nse('nse-bare');
const other = nse('nse-other', { color: 'red' }, 'other-service');
const all = [red, blue, green, bare, other];

describe('isSubset', () => {
  const cases: Array<{
    name: string;
    input: { labels?: Labels; selector?: Labels; values?: Labels };
    want: boolean;
  }> = [
    { name: 'empty selector', input: { labels: { a: '1' }, selector: {} }, want: true },
    { name: 'both missing', input: {}, want: true },
    { name: 'equal entries', input: { labels: { a: '1', b: '2' }, selector: { a: '1' } }, want: true },
    { name: 'different value', input: { labels: { a: '1' }, selector: { a: '2' } }, want: false },
    { name: 'missing key', input: { labels: { a: '1' }, selector: { b: '1' } }, want: false },
    {
      name: 'more selector keys than labels',
      input: { labels: { a: '1' }, selector: { a: '1', b: '' } },
      want: false,
    },
    {
      name: 'empty value matches a missing key (upstream quirk)',
      input: { labels: { a: '1' }, selector: { b: '' } },
      want: true,
    },
    {
      name: 'template rendered over values',
      input: { labels: { node: 'n1' }, selector: { node: '{{.nodeName}}' }, values: { nodeName: 'n1' } },
      want: true,
    },
    {
      name: 'template rendered over the labels by default',
      input: { labels: { node: 'n1', nodeName: 'n1' }, selector: { node: '{{.nodeName}}' } },
      want: true,
    },
    {
      name: 'template with a missing key',
      input: { labels: { node: 'n1' }, selector: { node: '{{.nodeName}}' }, values: {} },
      want: false,
    },
    {
      name: 'a literal equal to the template text matches too',
      input: { labels: { node: '{{.nodeName}}' }, selector: { node: '{{.nodeName}}' }, values: {} },
      want: true,
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.equal(isSubset(input.labels, input.selector, input.values), want);
    });
  }
});

describe('matchEndpoints', () => {
  const names = (list: NetworkServiceEndpoint[]) => list.map((e) => e.name);
  const cases: Array<{
    name: string;
    input: { ns: NetworkService | undefined; labels: Labels };
    want: string[];
  }> = [
    { name: 'no network service: every endpoint', input: { ns: undefined, labels: {} }, want: names(all) },
    { name: 'no matches: every endpoint', input: { ns: service([]), labels: {} }, want: names(all) },
    {
      name: 'destination selector picks endpoints by their labels for this service',
      input: { ns: service([match({ routes: [route({ color: 'red' })] })]), labels: {} },
      want: ['nse-red'],
    },
    {
      name: 'source selector chooses the match',
      input: {
        ns: service([
          match({ sourceSelector: { app: 'firewall' }, routes: [route({ color: 'blue' })] }),
          match({ sourceSelector: { app: 'vpn' }, routes: [route({ color: 'green' })] }),
        ]),
        labels: { app: 'vpn', extra: 'x' },
      },
      want: ['nse-green'],
    },
    {
      name: 'no match applies: none',
      input: {
        ns: service([match({ sourceSelector: { app: 'firewall' }, routes: [route({})] })]),
        labels: { app: 'vpn' },
      },
      want: [],
    },
    {
      name: 'no candidates without fallthrough: none, later matches are not tried',
      input: {
        ns: service([
          match({ routes: [route({ color: 'pink' })] }),
          match({ routes: [route({ color: 'red' })] }),
        ]),
        labels: {},
      },
      want: [],
    },
    {
      name: 'fallthrough chain: first match with candidates wins',
      input: {
        ns: service([
          match({ routes: [route({ color: 'pink' })], fallthrough: true }),
          match({ routes: [route({ color: 'yellow' })], fallthrough: true }),
          match({ routes: [route({ color: 'blue' })], fallthrough: true }),
          match({ routes: [route({ color: 'red' })] }),
        ]),
        labels: {},
      },
      want: ['nse-blue'],
    },
    {
      name: 'fallthrough past the last match: none',
      input: { ns: service([match({ routes: [route({ color: 'pink' })], fallthrough: true })]), labels: {} },
      want: [],
    },
    {
      name: 'template selector: endpoints on the client node',
      input: {
        ns: service([match({ routes: [route({ nodeName: '{{.nodeName}}' })] })]),
        labels: { nodeName: 'node-1' },
      },
      want: ['nse-red', 'nse-green'],
    },
    {
      name: 'template selector with a label the request lacks: none',
      input: { ns: service([match({ routes: [route({ nodeName: '{{.nodeName}}' })] })]), labels: {} },
      want: [],
    },
    {
      name: 'several routes: route by route, each endpoint once',
      input: {
        ns: service([
          match({
            routes: [route({ color: 'green' }), route({ nodeName: 'node-1' }), route({ color: 'blue' })],
          }),
        ]),
        labels: {},
      },
      want: ['nse-green', 'nse-red', 'nse-blue'],
    },
    {
      name: 'empty destination selector: every endpoint',
      input: { ns: service([match({ routes: [route({})] })]), labels: {} },
      want: names(all),
    },
    {
      name: 'metadata-only match (forwarder selection): every endpoint',
      input: { ns: service([match({ metadata: { labels: { p2p: 'true' } } })]), labels: {} },
      want: names(all),
    },
    {
      name: 'match without routes or metadata: none',
      input: { ns: service([match({})]), labels: {} },
      want: [],
    },
    {
      name: 'metadata with routes but no candidates: none',
      input: {
        ns: service([match({ routes: [route({ color: 'pink' })], metadata: { labels: { a: 'b' } } })]),
        labels: {},
      },
      want: [],
    },
    {
      name: 'source selector values are templates too',
      input: {
        ns: service([match({ sourceSelector: { app: '{{.expected}}' }, routes: [route({ color: 'red' })] })]),
        labels: { app: 'x', expected: 'x' },
      },
      want: ['nse-red'],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      assert.deepEqual(names(matchEndpoints(input.ns, all, input.labels)), want);
    });
  }

  it('carries the weight of the route that selected each endpoint, first route first', () => {
    const ns = service([
      match({
        routes: [
          { destinationSelector: { color: 'red' }, weight: 3 },
          { destinationSelector: { nodeName: 'node-1' }, weight: 1 },
        ],
      }),
    ]);
    const got = selectEndpoints(ns, all, {});
    assert.deepEqual(
      got.candidates.map((c) => [c.nse.name, c.weight]),
      [
        ['nse-red', 3],
        ['nse-green', 1],
      ],
    );
    assert.equal(got.match, ns.matches[0]);
  });

  it('names the match that applied when it found nothing, and none when no match applied', () => {
    const ns = service([
      match({ sourceSelector: { app: 'a' }, routes: [route({ color: 'pink' })], fallthrough: true }),
      match({ sourceSelector: { app: 'b' }, routes: [route({ color: 'red' })] }),
    ]);
    assert.equal(selectEndpoints(ns, all, { app: 'a' }).match, ns.matches[0]);
    assert.equal(selectEndpoints(ns, all, { app: 'c' }).match, undefined);
  });

  it('does not mutate or alias the input list', () => {
    const list = [red, blue];
    const got = matchEndpoints(undefined, list, {});
    assert.notEqual(got, list);
    assert.deepEqual(got, list);
  });
});

describe('matchForwarders', () => {
  const fwd = (name: string, labels?: Labels) => nse(name, labels, 'forwarder');
  const p2p = fwd('fwd-p2p', { p2p: 'true' });
  const sriov = fwd('fwd-sriov', { sriov: 'true', p2p: 'true' });
  const vpp = fwd('fwd-vpp', { type: 'vpp', nodeName: 'node-1' });
  const unlabeled = fwd('fwd-unlabeled');
  const foreign = nse('fwd-foreign', { p2p: 'true' }, 'not-forwarder');
  const forwarders = [p2p, sriov, vpp, unlabeled, foreign];
  const names = (list: NetworkServiceEndpoint[]) => list.map((e) => e.name);

  const cases: Array<{
    name: string;
    input: { ns: NetworkService | undefined; labels: Labels; serviceName?: string };
    want: string[];
  }> = [
    {
      name: 'no network service: every forwarder',
      input: { ns: undefined, labels: {} },
      want: names(forwarders),
    },
    { name: 'no matches: every forwarder', input: { ns: service([]), labels: {} }, want: names(forwarders) },
    {
      name: 'match without metadata wants p2p=true',
      input: { ns: service([match({ routes: [route({ color: 'red' })] })]), labels: {} },
      want: ['fwd-p2p', 'fwd-sriov'],
    },
    {
      name: 'match with empty metadata labels wants p2p=true',
      input: { ns: service([match({ metadata: { labels: {} } })]), labels: {} },
      want: ['fwd-p2p', 'fwd-sriov'],
    },
    {
      name: 'metadata labels select the forwarder',
      input: { ns: service([match({ metadata: { labels: { sriov: 'true' } } })]), labels: {} },
      want: ['fwd-sriov'],
    },
    {
      name: 'metadata labels may be templates over the request labels',
      input: {
        ns: service([match({ metadata: { labels: { nodeName: '{{.nodeName}}' } } })]),
        labels: { nodeName: 'node-1' },
      },
      want: ['fwd-vpp'],
    },
    {
      name: 'no forwarder without fallthrough: none',
      input: {
        ns: service([
          match({ metadata: { labels: { type: 'ovs' } } }),
          match({ metadata: { labels: { type: 'vpp' } } }),
        ]),
        labels: {},
      },
      want: [],
    },
    {
      name: 'fallthrough to the next match',
      input: {
        ns: service([
          match({ metadata: { labels: { type: 'ovs' } }, fallthrough: true }),
          match({ metadata: { labels: { type: 'vpp' } } }),
        ]),
        labels: {},
      },
      want: ['fwd-vpp'],
    },
    {
      name: 'source selectors skip matches; none applying gives none',
      input: {
        ns: service([match({ sourceSelector: { app: 'a' }, metadata: { labels: { type: 'vpp' } } })]),
        labels: {},
      },
      want: [],
    },
    {
      name: 'another service name for forwarder labels',
      input: { ns: service([match({})]), labels: {}, serviceName: 'not-forwarder' },
      want: ['fwd-foreign'],
    },
  ];
  for (const { name, input, want } of cases) {
    it(name, () => {
      const opts = input.serviceName ? { serviceName: input.serviceName } : {};
      assert.deepEqual(names(matchForwarders(input.ns, forwarders, input.labels, opts)), want);
    });
  }
});
