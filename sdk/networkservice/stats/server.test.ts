import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import type { LinkStats } from '../../kernel/index.js';
import { pathOf, request } from '../../testing/connections.js';
import { setMetricsEnabled } from '../../tools/metrics/index.js';
import * as metadata from '../metadata/index.js';
import * as stats from './index.js';

const counters = (alias: string, n: number): LinkStats => ({
  alias,
  rxBytes: 100 * n,
  txBytes: 200 * n,
  rxPackets: n,
  txPackets: 2 * n,
  rxDropped: 1,
  txDropped: 2,
});

describe('stats server', () => {
  afterEach(() => setMetricsEnabled(false));

  function chain(reads: string[], gone = false) {
    let n = 0;
    const dataplane = {
      async linkStats(_netns: unknown, name: string): Promise<LinkStats> {
        reads.push(name);
        if (gone && name === 'ep') throw new Error('no such device');
        n++;
        return counters(name === 'cl' ? 'nsm:fwd:c1:client' : 'nsm:fwd:c1:endpoint', n);
      },
    };
    const links = () => [
      { netns: { path: '/proc/1/ns/net' }, name: 'cl' },
      { netns: { path: '/proc/2/ns/net' }, name: 'ep' },
    ];
    return newNetworkServiceChain(metadata.newServer(), stats.newServer({ dataplane, links }));
  }
  const req = () => request({ id: 'c1', ...pathOf(['nsc', 'nsmgr', 'fwd']) });

  it('leaves the first Request alone and puts upstream-named counters on the segment of every refresh', async () => {
    setMetricsEnabled(true);
    const reads: string[] = [];
    const c = chain(reads);
    const first = await c.request(background(), req());
    assert.deepEqual(first.path!.pathSegments[2].metrics, {});
    assert.equal(reads.length, 0);
    const refreshed = await c.request(background(), req());
    const m = refreshed.path!.pathSegments[2].metrics;
    assert.deepEqual(reads.sort(), ['cl', 'ep']);
    // the client-side link (alias …:client) was read first: n = 1; the endpoint side n = 2
    assert.equal(m.server_rx_packets, '1');
    assert.equal(m.server_rx_bytes, '100');
    assert.equal(m.client_tx_packets, '4');
    assert.equal(m.server_drops, '3');
    assert.deepEqual(Object.keys(m).sort(), [
      'client_drops',
      'client_rx_bytes',
      'client_rx_packets',
      'client_tx_bytes',
      'client_tx_packets',
      'server_drops',
      'server_rx_bytes',
      'server_rx_packets',
      'server_tx_bytes',
      'server_tx_packets',
    ]);
  });

  it('reports the links it can read when one is gone', async () => {
    setMetricsEnabled(true);
    const c = chain([], true);
    await c.request(background(), req());
    const m = (await c.request(background(), req())).path!.pathSegments[2].metrics;
    assert.ok('server_rx_bytes' in m);
    assert.ok(!('client_rx_bytes' in m));
  });

  it('reads nothing with metrics off', async () => {
    const reads: string[] = [];
    const c = chain(reads);
    await c.request(background(), req());
    const m = (await c.request(background(), req())).path!.pathSegments[2].metrics;
    assert.deepEqual(m, {});
    assert.equal(reads.length, 0);
  });
});
