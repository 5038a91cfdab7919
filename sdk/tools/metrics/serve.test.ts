import assert from 'node:assert/strict';
import { metricsEnabled, requests, serveMetrics } from './index.js';

describe('metrics endpoint', () => {
  it('serves the registry on GET /metrics while open, and turns recording on and off', async () => {
    const server = await serveMetrics('127.0.0.1:0');
    try {
      assert.equal(metricsEnabled(), true);
      requests.inc({ hop: 'serve-test', service: 's', kind: 'setup', code: 'OK' });
      const res = await fetch(server.url);
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/plain/);
      const text = await res.text();
      assert.match(text, /^nsm_requests_total\{hop="serve-test",service="s",kind="setup",code="OK"\} 1$/m);
      assert.match(text, /^process_cpu_user_seconds_total /m);
      const other = await fetch(server.url.replace('/metrics', '/'));
      assert.equal(other.status, 404);
      await other.text();
    } finally {
      await server.close();
    }
    assert.equal(metricsEnabled(), false);
  });

  it('refuses a unix socket or a bad address, naming the variable', async () => {
    await assert.rejects(serveMetrics('unix:///tmp/m.sock'), /NSM_METRICS_LISTEN_ON: must be host:port/);
    await assert.rejects(serveMetrics('nope'), /NSM_METRICS_LISTEN_ON: missing port/);
  });
});
