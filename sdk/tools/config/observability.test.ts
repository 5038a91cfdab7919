import assert from 'node:assert/strict';
import { isConfigError, loadConfig, observabilitySchema } from './index.js';

describe('observability config', () => {
  it('is off when unset', () => {
    assert.deepEqual(loadConfig(observabilitySchema, {}), {
      metricsListenOn: undefined,
      otelEndpoint: undefined,
    });
  });

  it('takes host:port, :port and the OTLP endpoint', () => {
    const c = loadConfig(observabilitySchema, {
      NSM_METRICS_LISTEN_ON: ':9090',
      NSM_OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
    });
    assert.equal(c.metricsListenOn, 'tcp://:9090');
    assert.equal(c.otelEndpoint, 'http://collector:4318');
  });

  for (const [value, problem] of [
    ['unix:///run/metrics.sock', 'must be host:port'],
    ['9090', 'missing port'],
  ]) {
    it(`refuses NSM_METRICS_LISTEN_ON=${value} as a config error`, () => {
      assert.throws(
        () => loadConfig(observabilitySchema, { NSM_METRICS_LISTEN_ON: value }),
        (e: unknown) => isConfigError(e) && e.env === 'NSM_METRICS_LISTEN_ON' && e.message.includes(problem),
      );
    });
  }
});
