import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { NetworkServiceElement } from '../../core/types.js';
import { ns, nse, request } from '../../testing/connections.js';
import { fakeFinder } from '../../testing/registry.js';
import * as discover from '../discover/index.js';
import * as metadata from '../metadata/index.js';
import * as roundrobin from './index.js';

const SERVICE = 'icmp';
const labelled = (name: string, color: string) =>
  nse(name, { networkServiceNames: [SERVICE], networkServiceLabels: { [SERVICE]: { labels: { color } } } });

/** Accepts every request (or fails those to `down`), so roundrobin's first choice is what we count. */
function accept(down: Set<string> = new Set()): NetworkServiceElement {
  return {
    async request(_ctx, req) {
      if (down.has(req.connection!.networkServiceEndpointName)) throw new Error('down');
      return req.connection!;
    },
    close: async () => {},
  };
}

/** Routes of one match with these weights, one endpoint per route (colour = endpoint name). */
function weighted(weights: Record<string, number>, down?: Set<string>) {
  const service = ns(SERVICE, {
    matches: [
      {
        routes: Object.entries(weights).map(([color, weight]) => ({
          destinationSelector: { color },
          weight,
        })),
      },
    ],
  });
  const finder = fakeFinder(
    [service],
    Object.keys(weights).map((c) => labelled(c, c)),
  );
  return newNetworkServiceChain(
    metadata.newServer(),
    discover.newServer(finder),
    roundrobin.newServer(),
    accept(down),
  );
}

async function split(chain: NetworkServiceElement, n: number): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const conn = await chain.request(background(), request({ id: `c${i}`, networkService: SERVICE }));
    counts.set(conn.networkServiceEndpointName, (counts.get(conn.networkServiceEndpointName) ?? 0) + 1);
  }
  return counts;
}

describe('roundrobin server with route weights', () => {
  const cases: { name: string; weights: Record<string, number> }[] = [
    { name: 'splits 1000 new connections 1:3 within 5% of the weights', weights: { a: 1, b: 3 } },
    { name: 'splits 1000 new connections 5:3:2 within 5% of the weights', weights: { a: 5, b: 3, c: 2 } },
    { name: 'splits 1000 new connections 7:1 within 5% of the weights', weights: { a: 7, b: 1 } },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const counts = await split(weighted(c.weights), 1000);
      const total = Object.values(c.weights).reduce((x, y) => x + y, 0);
      for (const [name, weight] of Object.entries(c.weights)) {
        const want = (1000 * weight) / total;
        const got = counts.get(name) ?? 0;
        assert.ok(Math.abs(got - want) <= 0.05 * want, `${name}: ${got} connections, want ${want} ± 5%`);
      }
    });
  }

  it('counts a route without a weight as 1 when another route has one', async () => {
    const counts = await split(weighted({ a: 0, b: 2 }), 300);
    assert.deepEqual([counts.get('a'), counts.get('b')], [100, 200]);
  });

  it('moves on to the next candidate when the weighted choice fails', async () => {
    const counts = await split(weighted({ a: 9, b: 1 }, new Set(['a'])), 20);
    assert.deepEqual([...counts], [['b', 20]]);
  });
});
