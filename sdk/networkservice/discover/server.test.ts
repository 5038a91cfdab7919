import assert from 'node:assert/strict';
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { background } from '../../core/context.js';
import { newNetworkServiceChain, newRegistryChain } from '../../core/next.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';
import { checkContext, recorder } from '../../testing/checks.js';
import { ns, nse, pathOf, request } from '../../testing/connections.js';
import { fakeFinder } from '../../testing/registry.js';
import { clientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';
import * as roundrobin from '../roundrobin/index.js';
import * as discover from './index.js';

const labelled = (name: string, service: string, labels: Record<string, string>) =>
  nse(name, { networkServiceNames: [service], networkServiceLabels: { [service]: { labels } } });

function setup(services = [ns('icmp')], endpoints: NetworkServiceEndpoint[] = []) {
  const finder = fakeFinder(services, endpoints);
  const got: string[][] = [];
  const rec = recorder();
  const chain = newNetworkServiceChain(
    metadata.newServer(),
    discover.newServer(finder),
    checkContext((c) => got.push((discover.candidates(c) ?? []).map((e) => e.name))),
    rec,
  );
  return { finder, got, rec, chain };
}

function hasCode(code: number, message: RegExp) {
  return (e: Error & { code?: number }) => {
    assert.equal(e.code, code, e.message);
    assert.match(e.message, message);
    return true;
  };
}

describe('discover server', () => {
  it('passes every endpoint of the service as candidates when the service has no matches', async () => {
    const { got, chain } = setup(
      [ns('icmp')],
      [
        nse('a', { networkServiceNames: ['icmp'] }),
        nse('b', { networkServiceNames: ['icmp', 'other'] }),
        nse('c', { networkServiceNames: ['other'] }),
      ],
    );
    await chain.request(background(), request({ id: 'x', networkService: 'icmp' }));
    assert.deepEqual(got, [['a', 'b']]);
  });

  it('selects candidates by the service matches and the request labels', async () => {
    const service = ns('icmp', {
      matches: [
        { sourceSelector: { app: 'blue' }, routes: [{ destinationSelector: { color: 'blue' } }] },
        { routes: [{ destinationSelector: { color: 'red' } }] },
      ],
    });
    const { got, chain } = setup(
      [service],
      [labelled('blue-1', 'icmp', { color: 'blue' }), labelled('red-1', 'icmp', { color: 'red' })],
    );
    await chain.request(background(), request({ id: 'x', labels: { app: 'blue' } }));
    await chain.request(background(), request({ id: 'y', labels: { app: 'green' } }));
    assert.deepEqual(got, [['blue-1'], ['red-1']]);
  });

  it('leaves endpoints already on the path out of the candidates', async () => {
    const { got, chain } = setup(
      [ns('icmp')],
      [nse('p1', { networkServiceNames: ['icmp'] }), nse('p2', { networkServiceNames: ['icmp'] })],
    );
    await chain.request(background(), request(pathOf(['nsc', 'nsmgr', 'fwd', 'p1', 'nsmgr', 'fwd'], 5)));
    assert.deepEqual(got, [['p2']]);
  });

  it('finds exactly the endpoint a request names', async () => {
    const { got, finder, chain } = setup(
      [ns('icmp')],
      [nse('a', { networkServiceNames: ['icmp'] }), nse('b', { networkServiceNames: ['icmp'] })],
    );
    await chain.request(background(), request({ id: 'x', networkServiceEndpointName: 'b' }));
    assert.deepEqual(got, [['b']]);
    assert.deepEqual(finder.endpointQueries, [{ name: 'b' }]);
  });

  const failures: {
    name: string;
    services: ReturnType<typeof ns>[];
    endpoints: NetworkServiceEndpoint[];
    conn: Parameters<typeof request>[0];
    code: number;
    message: RegExp;
  }[] = [
    {
      name: 'refuses a request without a network service',
      services: [],
      endpoints: [],
      conn: { id: 'x', networkService: '' },
      code: 3,
      message: /network_service is empty/,
    },
    {
      name: 'reports a named endpoint that is not registered as NOT_FOUND',
      services: [ns('icmp')],
      endpoints: [],
      conn: { id: 'x', networkServiceEndpointName: 'gone' },
      code: 5,
      message: /endpoint "gone" \(for service "icmp"\) not found/,
    },
    {
      name: 'reports an unknown service as NOT_FOUND',
      services: [],
      endpoints: [],
      conn: { id: 'x' },
      code: 5,
      message: /network service "icmp" not found/,
    },
    {
      name: 'reports a service without endpoints as NOT_FOUND',
      services: [ns('icmp')],
      endpoints: [],
      conn: { id: 'x' },
      code: 5,
      message: /no endpoints are registered for network service "icmp"/,
    },
    {
      name: 'reports endpoints that all fail the matches as NOT_FOUND',
      services: [ns('icmp', { matches: [{ routes: [{ destinationSelector: { color: 'blue' } }] }] })],
      endpoints: [labelled('red', 'icmp', { color: 'red' })],
      conn: { id: 'x', labels: { app: 'a' } },
      code: 5,
      message: /no endpoint of network service "icmp" matches the labels \{"app":"a"\}/,
    },
    {
      name: 'names the service and the selector when no endpoint has the labels a match routes to',
      services: [
        ns('icmp', {
          matches: [{ sourceSelector: { app: 'fw' }, routes: [{ destinationSelector: { app: 'nobody' } }] }],
        }),
      ],
      endpoints: [labelled('red', 'icmp', { app: 'red' })],
      conn: { id: 'x', labels: { app: 'fw' } },
      code: 5,
      message: /network service "icmp" matches the labels \{"app":"fw"\} \(selector \{"app":"nobody"\}\)/,
    },
    {
      name: 'says no match applies when no source selector takes the request labels',
      services: [
        ns('icmp', {
          matches: [{ sourceSelector: { app: 'fw' }, routes: [{ destinationSelector: { app: 'red' } }] }],
        }),
      ],
      endpoints: [labelled('red', 'icmp', { app: 'red' })],
      conn: { id: 'x', labels: { app: 'other' } },
      code: 5,
      message: /\(no match of the service applies to them\)/,
    },
    {
      name: 'refuses a chain that routes back to an endpoint on the path, naming the loop',
      services: [
        ns('icmp', {
          matches: [{ sourceSelector: { app: 'p2' }, routes: [{ destinationSelector: { app: 'p1' } }] }],
        }),
      ],
      endpoints: [labelled('p1', 'icmp', { app: 'p1' })],
      conn: {
        ...pathOf(['nsc', 'nsmgr', 'fwd', 'p1', 'nsmgr', 'fwd', 'p2', 'nsmgr', 'fwd'], 8),
        labels: { app: 'p2' },
      },
      code: 9,
      message:
        /network service "icmp" loops: the request with labels \{"app":"p2"\} has passed nsc → nsmgr → fwd → p1 → nsmgr → fwd → p2 → nsmgr and its match routes it back to "p1"/,
    },
    {
      name: 'refuses a payload that differs from the service payload',
      services: [ns('icmp', { payload: 'IP' })],
      endpoints: [nse('a', { networkServiceNames: ['icmp'] })],
      conn: { id: 'x', payload: 'ETHERNET' },
      code: 3,
      message: /payload "ETHERNET" does not match the payload "IP"/,
    },
  ];
  for (const c of failures) {
    it(c.name, async () => {
      const { rec, chain } = setup(c.services, c.endpoints);
      await assert.rejects(chain.request(background(), request(c.conn)), hasCode(c.code, c.message));
      assert.equal(rec.calls.length, 0);
    });
  }

  const payloads: { name: string; service: string; requested: string; named?: boolean; want: string }[] = [
    { name: 'copies the service payload into the connection', service: 'IP', requested: '', want: 'IP' },
    { name: 'keeps a requested payload when the service has none', service: '', requested: 'IP', want: 'IP' },
    { name: 'defaults the payload to ETHERNET', service: '', requested: '', want: 'ETHERNET' },
    {
      name: 'defaults the payload of a named endpoint to ETHERNET',
      service: 'IP',
      requested: '',
      named: true,
      want: 'ETHERNET',
    },
  ];
  for (const c of payloads) {
    it(c.name, async () => {
      const { rec, chain } = setup(
        [ns('icmp', { payload: c.service })],
        [nse('a', { networkServiceNames: ['icmp'] })],
      );
      await chain.request(
        background(),
        request({ id: 'x', payload: c.requested, networkServiceEndpointName: c.named ? 'a' : '' }),
      );
      assert.equal(rec.calls[0].request?.connection?.payload, c.want);
    });
  }

  it('refreshes a connection to the endpoint roundrobin chose without asking the registry', async () => {
    const finder = fakeFinder([ns('icmp')], [nse('a', { networkServiceNames: ['icmp'] })]);
    const urls: string[] = [];
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      discover.newServer(finder),
      roundrobin.newServer(),
      checkContext((c) => urls.push(clientURL(c) ?? '')),
    );
    const conn = await chain.request(background(), request({ id: 'x' }));
    assert.equal(conn.networkServiceEndpointName, 'a');
    const queries = finder.endpointQueries.length;
    finder.endpointsList = []; // the registry restarted and lost it
    await chain.request(background(), { connection: conn, mechanismPreferences: [] });
    assert.equal(finder.endpointQueries.length, queries);
    assert.deepEqual(urls, [nse('a').url, nse('a').url]);
  });

  it('uses the endpoints alone when the service itself is not registered', async () => {
    const { got, chain } = setup([], [nse('a', { networkServiceNames: ['icmp'] })]);
    await chain.request(background(), request({ id: 'x' }));
    assert.deepEqual(got, [['a']]);
  });

  it('passes close through', async () => {
    const { rec, chain } = setup();
    await chain.close(background(), request({ id: 'x' }).connection!);
    assert.deepEqual(rec.ops(), ['close x']);
  });
});

describe('discover finder', () => {
  const nsStore = (items: ReturnType<typeof ns>[], deleted: string[] = []): NsRegistry => ({
    register: async (_c, i) => i,
    async find(_c, _q, sink) {
      for (const i of items) sink({ networkService: i, deleted: deleted.includes(i.name) });
    },
    unregister: async () => {},
  });
  const nseStore = (items: NetworkServiceEndpoint[], seen: unknown[] = []): NseRegistry => ({
    register: async (_c, i) => i,
    async find(_c, q, sink) {
      seen.push(q);
      for (const i of items) sink({ networkServiceEndpoint: i, deleted: i.name.startsWith('deleted') });
    },
    unregister: async () => {},
  });

  it('finds a network service by its exact name, skipping deleted ones', async () => {
    const f = discover.newFinder(
      newRegistryChain(nsStore([ns('icmp-2'), ns('icmp', { payload: 'IP' })])),
      newRegistryChain(nseStore([])),
    );
    assert.equal((await f.networkService(background(), 'icmp'))?.payload, 'IP');
    const gone = discover.newFinder(
      newRegistryChain(nsStore([ns('icmp')], ['icmp'])),
      newRegistryChain(nseStore([])),
    );
    assert.equal(await gone.networkService(background(), 'icmp'), undefined);
  });

  it('finds endpoints by template, leaving out deleted and expired ones', async () => {
    const seen: unknown[] = [];
    const f = discover.newFinder(
      newRegistryChain(nsStore([])),
      newRegistryChain(
        nseStore(
          [
            nse('live', { expirationTime: new Date(Date.now() + 60_000) }),
            nse('forever'),
            nse('expired', { expirationTime: new Date(Date.now() - 1) }),
            nse('deleted-1'),
          ],
          seen,
        ),
      ),
    );
    const found = await f.endpoints(background(), { networkServiceNames: ['icmp'] });
    assert.deepEqual(
      found.map((e) => e.name),
      ['live', 'forever'],
    );
    const q = seen[0] as { networkServiceEndpoint: NetworkServiceEndpoint; watch: boolean };
    assert.deepEqual(q.networkServiceEndpoint.networkServiceNames, ['icmp']);
    assert.equal(q.networkServiceEndpoint.name, '');
    assert.equal(q.watch, false);
  });

  it('answers from its cache until a reselect asks for a fresh answer', async () => {
    const services = [ns('dyn', { payload: 'IP' })];
    const f = discover.newFinder(newRegistryChain(nsStore(services)), newRegistryChain(nseStore([])));
    assert.equal((await f.networkService(background(), 'dyn'))?.payload, 'IP');
    services[0] = ns('dyn', { payload: 'ETHERNET' });
    assert.equal((await f.networkService(background(), 'dyn'))?.payload, 'IP', 'cached');
    assert.equal((await f.networkService(background(), 'dyn', { fresh: true }))?.payload, 'ETHERNET');
    assert.equal(
      (await f.networkService(background(), 'dyn'))?.payload,
      'ETHERNET',
      'the fresh answer is cached',
    );
  });
});
