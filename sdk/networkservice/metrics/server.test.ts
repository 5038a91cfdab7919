import assert from 'node:assert/strict';
import { background } from '../../core/context.js';
import { newNetworkServiceChain } from '../../core/next.js';
import { request } from '../../testing/connections.js';
import { injectError } from '../../testing/inject.js';
import * as m from '../../tools/metrics/index.js';
import * as metadata from '../metadata/index.js';
import * as metrics from './index.js';

/** The value of one series in the registry, 0 when it was never recorded. */
async function sample(name: string, labels: Record<string, string>): Promise<number> {
  const metric = m.registry.getSingleMetric(name);
  if (!metric) throw new Error(`no metric ${name}`);
  const data = await metric.get();
  const hit = data.values.find(
    (v) =>
      (v as { metricName?: string }).metricName === undefined &&
      Object.entries(labels).every(([k, want]) => String(v.labels[k]) === want),
  );
  return hit?.value ?? 0;
}

describe('metrics server', () => {
  let hop = '';
  let n = 0;
  beforeEach(() => {
    hop = `hop-${++n}-${process.pid}`; // a fresh label set per test: the registry is process-wide
    m.setMetricsEnabled(true);
  });
  afterEach(() => m.setMetricsEnabled(false));

  it('counts a setup, then refreshes, and holds the connection until it is closed', async () => {
    const chain = newNetworkServiceChain(metadata.newServer(), metrics.newServer({ name: hop }));
    const conn = await chain.request(background(), request({ id: 'a', networkService: 'icmp' }));
    await chain.request(background(), request({ id: 'a', networkService: 'icmp' }));
    const ok = { hop, service: 'icmp', code: 'OK' };
    assert.equal(await sample('nsm_requests_total', { ...ok, kind: 'setup' }), 1);
    assert.equal(await sample('nsm_requests_total', { ...ok, kind: 'refresh' }), 1);
    assert.equal(await sample('nsm_connections', { hop, service: 'icmp' }), 1);
    const hist = await m.requestDuration.get();
    const count = hist.values.find(
      (v) =>
        v.metricName === 'nsm_request_duration_seconds_count' &&
        v.labels.hop === hop &&
        v.labels.kind === 'setup',
    );
    assert.equal(count?.value, 1);
    await chain.close(background(), conn);
    assert.equal(await sample('nsm_connections', { hop, service: 'icmp' }), 0);
    assert.equal(await sample('nsm_closes_total', ok), 1);
  });

  it('counts failures by gRPC code and does not hold a connection that failed to set up', async () => {
    const chain = newNetworkServiceChain(
      metadata.newServer(),
      metrics.newServer({ name: hop }),
      injectError({ requestTimes: [1] }),
    );
    await assert.rejects(chain.request(background(), request({ id: 'a', networkService: 'icmp' })));
    assert.equal(
      await sample('nsm_requests_total', { hop, service: 'icmp', kind: 'setup', code: 'UNAVAILABLE' }),
      1,
    );
    assert.equal(await sample('nsm_connections', { hop, service: 'icmp' }), 0);
    await chain.request(background(), request({ id: 'a', networkService: 'icmp' }));
    assert.equal(await sample('nsm_requests_total', { hop, service: 'icmp', kind: 'setup', code: 'OK' }), 1);
  });

  it('records nothing while metrics are off', async () => {
    m.setMetricsEnabled(false);
    const chain = newNetworkServiceChain(metadata.newServer(), metrics.newServer({ name: hop }));
    await chain.request(background(), request({ id: 'a', networkService: 'icmp' }));
    assert.equal(await sample('nsm_requests_total', { hop }), 0);
  });
});
