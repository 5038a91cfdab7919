// End-to-end: the L7 gateway of issue 14 (sdk/tools/sandbox/l7.ts). Real HTTP from a client pod
// through its mesh connection to the gateway's HAProxy, and on over the gateway's own mesh
// connections to HTTP backends: path and header routing, a weighted split, a retry that hides a
// failing backend, a timeout that fires, a route reload under load that fails no request, a bad
// edit that leaves the routes in force, and no HAProxy process left after the gateway stops.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { httpLoad, type L7Mesh, l7Counters, startL7 } from '../../sdk/tools/sandbox/l7.js';
import { Sandbox } from '../../sdk/tools/sandbox/sandbox.js';

const routes = (v1: number, v2: number) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  rules:
    - matches: [{path: {type: PathPrefix, value: /split}}]
      backendRefs: [{name: web-v1, port: 8080, weight: ${v1}}, {name: web-v2, port: 8080, weight: ${v2}}]
    - matches: [{path: {type: Exact, value: /v2}}, {headers: [{name: x-route, value: v2}]}]
      backendRefs: [{name: web-v2, port: 8080}]
    - matches: [{path: {value: /retry}}]
      backendRefs: [{name: web-bad, port: 8080}, {name: web-v1, port: 8080}]
      retry: {codes: [503], attempts: 2}
    - matches: [{path: {value: /noretry}}]
      backendRefs: [{name: web-bad, port: 8080}, {name: web-v1, port: 8080}]
    - matches: [{path: {value: /slow}}]
      backendRefs: [{name: web-v1, port: 8080}]
      timeouts: {request: 300ms}
`;

/** Processes whose command line names `text` (HAProxy's is `haproxy -W -f <runDir>/haproxy.cfg`). */
function processesWith(text: string): string[] {
  const out: string[] = [];
  for (const pid of readdirSync('/proc').filter((e) => /^\d+$/.test(e))) {
    try {
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(text)) out.push(`${pid} ${cmd}`);
    } catch {}
  }
  return out;
}

describe('L7 gateway: HTTP from a client through the mesh to HAProxy and on to backends (e2e)', function () {
  this.timeout(120_000);
  let sb: Sandbox;
  let l7: L7Mesh;
  const url = (path: string) => `http://${l7.gatewayIP}${path}`;

  before(async () => {
    sb = await Sandbox.create({ nodes: 1 });
    l7 = await startL7(sb, routes(80, 20), [
      { service: 'web-v1' },
      { service: 'web-v2' },
      { service: 'web-bad', status: 503 },
    ]);
  });

  after(async () => {
    await sb?.close();
  });

  it('routes by exact path and by header, and answers 404 where no route matches', async () => {
    const byPath = await httpLoad(l7.client, ['--url', url('/v2'), '--count', '20']);
    assert.deepEqual(byPath.backends, { 'web-v2': 20 });
    const byHeader = await httpLoad(l7.client, [
      '--url',
      url('/other'),
      '--count',
      '10',
      '--header',
      'x-route:v2',
    ]);
    assert.deepEqual(byHeader.backends, { 'web-v2': 10 });
    const none = await httpLoad(l7.client, ['--url', url('/v2x'), '--count', '5']);
    assert.deepEqual(none.statuses, { 404: 5 });
  });

  it('splits 1000 requests 80/20 between the backends, within ±5%', async () => {
    const r = await httpLoad(l7.client, ['--url', url('/split/a'), '--count', '1000', '--concurrency', '4']);
    assert.deepEqual(r.statuses, { 200: 1000 });
    assert.ok(
      Math.abs((r.backends['web-v1'] ?? 0) - 800) <= 50,
      `web-v1 got ${r.backends['web-v1']} of 1000`,
    );
    assert.equal((r.backends['web-v1'] ?? 0) + (r.backends['web-v2'] ?? 0), 1000);
  });

  it('hides a backend that answers 503 with a retry on the other one', async () => {
    const plain = await httpLoad(l7.client, ['--url', url('/noretry'), '--count', '20']);
    assert.ok(
      (plain.statuses[503] ?? 0) > 0,
      `without retry the failing backend shows: ${JSON.stringify(plain.statuses)}`,
    );
    const retried = await httpLoad(l7.client, [
      '--url',
      url('/retry'),
      '--count',
      '100',
      '--concurrency',
      '2',
    ]);
    assert.deepEqual(retried.statuses, { 200: 100 });
    assert.deepEqual(retried.backends, { 'web-v1': 100 });
    const counters = await l7Counters(l7);
    const bad = counters.find((c) => c.rule === 'shop.2' && c.backend === 'web-bad');
    assert.ok(bad && bad.requests > 0, `web-bad was tried: ${JSON.stringify(counters)}`);
    const total = counters.find((c) => c.rule === 'shop.2' && c.backend === 'BACKEND');
    assert.ok(total && total.retries > 0, `HAProxy counted retries: ${JSON.stringify(total)}`);
  });

  it('answers 504 when the backend is slower than the route timeout', async () => {
    const slow = await httpLoad(l7.client, [
      '--url',
      url('/slow'),
      '--count',
      '3',
      '--header',
      'x-delay-ms:3000',
    ]);
    assert.deepEqual(slow.statuses, { 504: 3 });
    assert.ok(slow.p50Ms < 2_500, `the timeout (300 ms) fired before the backend answered: ${slow.p50Ms} ms`);
    const fast = await httpLoad(l7.client, ['--url', url('/slow'), '--count', '3']);
    assert.deepEqual(fast.statuses, { 200: 3 });
  });

  it('reloads changed routes under load without a failed request', async () => {
    const load = httpLoad(l7.client, ['--url', url('/split'), '--duration-ms', '5000', '--concurrency', '4']);
    for (const [v1, v2] of [
      [50, 50],
      [20, 80],
      [0, 1],
    ]) {
      await new Promise((r) => setTimeout(r, 1_000));
      writeFileSync(l7.routesFile, routes(v1, v2));
    }
    const r = await load;
    assert.equal(r.failed, 0, `failed requests: ${r.errors.join('; ')}`);
    assert.deepEqual(Object.keys(r.statuses), ['200']);
    assert.ok(r.requests > 100, `load ran: ${r.requests} requests`);
    // The last routes (web-v2 only) are in force.
    const after = await httpLoad(l7.client, ['--url', url('/split'), '--count', '20']);
    assert.deepEqual(after.backends, { 'web-v2': 20 });
  });

  it('keeps the routes in force when the file is edited into a bad one, naming file, line and field', async () => {
    writeFileSync(l7.routesFile, routes(1, 0).replace('weight: 1}', 'weight: lots}'));
    const deadline = Date.now() + 10_000;
    const log = () => readFileSync(l7.gatewayDaemon.logFile, 'utf8');
    while (!log().includes('routes not reloaded') && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 100));
    assert.match(
      log(),
      /l7-routes\.yaml:7:\d+: spec\.rules\[0\]\.backendRefs\[0\]\.weight: must be an integer/,
    );
    const r = await httpLoad(l7.client, ['--url', url('/split'), '--count', '10']);
    assert.deepEqual(r.backends, { 'web-v2': 10 });
  });

  it('leaves no HAProxy process when the gateway stops', async () => {
    const cfg = `${l7.statsSocket.replace(/haproxy\.sock$/, '')}haproxy.cfg`;
    assert.ok(processesWith(cfg).length > 0, 'HAProxy runs while the gateway does');
    await l7.gatewayDaemon.stop();
    assert.equal(l7.gatewayDaemon.exitCode, 0);
    assert.deepEqual(processesWith(cfg), []);
  });
});
