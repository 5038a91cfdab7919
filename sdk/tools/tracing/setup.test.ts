import assert from 'node:assert/strict';
import { exportTarget, setupTracing, tracingEnabled } from './setup.js';

const cases: { name: string; endpoint?: string; env: Record<string, string>; want: string | undefined }[] = [
  { name: 'off when nothing is set', env: {}, want: undefined },
  {
    name: 'NSM endpoint gets the traces path',
    endpoint: 'http://c:4318',
    env: {},
    want: 'http://c:4318/v1/traces',
  },
  { name: 'host:port means http', endpoint: 'c:4318', env: {}, want: 'http://c:4318/v1/traces' },
  {
    name: 'a full traces URL is kept',
    endpoint: 'http://c:4318/v1/traces',
    env: {},
    want: 'http://c:4318/v1/traces',
  },
  { name: 'trailing slash', endpoint: 'http://c:4318/', env: {}, want: 'http://c:4318/v1/traces' },
  {
    name: 'standard variable: the exporter reads it',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' },
    want: 'env',
  },
  {
    name: 'standard traces variable',
    env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://c:4318/v1/traces' },
    want: 'env',
  },
  {
    name: 'NSM wins over standard',
    endpoint: 'http://a:1',
    env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://b:2' },
    want: 'http://a:1/v1/traces',
  },
  {
    name: 'OTEL_SDK_DISABLED turns it off',
    endpoint: 'http://a:1',
    env: { OTEL_SDK_DISABLED: 'true' },
    want: undefined,
  },
];

describe('tracing setup', () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(exportTarget({ serviceName: 's', endpoint: c.endpoint, env: c.env }), c.want);
    });
  }

  it('loads nothing and stays off without a collector', async () => {
    assert.equal(await setupTracing({ serviceName: 's', env: {} }), undefined);
    assert.equal(tracingEnabled(), false);
  });
});
