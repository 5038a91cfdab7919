import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStat } from './counters.js';
import { findHaproxy } from './haproxy.js';
import { renderConfig } from './haproxy-cfg.js';
import { backendServices, parseDuration, parseRoutes } from './routes.js';

const SHOP = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: shop}
spec:
  hostnames: [shop.example, "*.shop.example"]
  rules:
    - matches:
        - path: {type: PathPrefix, value: /api/}
          headers: [{name: X-Canary, value: "1"}]
        - path: {type: Exact, value: /login}
      backendRefs:
        - {name: web-v1, port: 8080, weight: 900}
        - {name: web-v2, port: 8080, weight: 100}
      timeouts: {request: 2s}
      retry: {codes: [503], attempts: 2, backoff: 100ms}
    - backendRefs: [{name: web-v1, port: 8080}]
---
metadata: {name: admin}
spec:
  rules:
    - matches: [{path: {value: /admin}}]
      timeouts: {request: 10s, backendRequest: 1500ms}
      backendRefs: [{name: admin, port: 9000}]
`;
const OPTS = {
  port: 80,
  statsSocket: '/run/x/haproxy.sock',
  addresses: { 'web-v1': '172.16.21.1', admin: '172.16.23.1' },
};

describe('l7-gateway routes', () => {
  it('reads HTTPRoutes: hostnames, matches, weights, timeouts and retry, with Gateway API defaults', () => {
    const routes = parseRoutes(SHOP, 'r.yaml');
    assert.deepEqual(routes[0].hostnames, ['shop.example', '*.shop.example']);
    assert.deepEqual(routes[0].rules[0].matches[0], {
      path: { type: 'PathPrefix', value: '/api/' },
      headers: [{ name: 'x-canary', value: '1' }],
    });
    assert.deepEqual(routes[0].rules[0].retry, { codes: [503], attempts: 2, backoffMs: 100 });
    assert.equal(routes[0].rules[1].backendRefs[0].weight, 1);
    assert.deepEqual(routes[1].rules[0].matches[0].path, { type: 'PathPrefix', value: '/admin' });
    assert.deepEqual(backendServices(routes), ['admin', 'web-v1', 'web-v2']);
  });

  it('renders one use_backend per match in Gateway API precedence, one backend per rule', () => {
    const cfg = renderConfig(parseRoutes(SHOP, 'r.yaml'), OPTS);
    const uses = cfg.split('\n').filter((l) => /_backend /.test(l));
    assert.deepEqual(uses, [
      '  use_backend shop.0 if shop.host shop.0.1.path', // Exact first
      '  use_backend admin.0 if admin.0.0.path', // then the longest prefix (/admin over /api)
      '  use_backend shop.0 if shop.host shop.0.0.path shop.0.0.h0',
      '  use_backend shop.1 if shop.host', // no match: every path of the route's hosts
      '  default_backend no-route',
    ]);
    assert.match(cfg, /acl shop.host req.hdr\(host\),field\(1,:\),lower -m str shop.example\n/);
    assert.match(cfg, /acl shop.host req.hdr\(host\),field\(1,:\),lower -m end .shop.example\n/);
    // element-wise prefix: /api and /api/..., never /apix
    assert.match(cfg, /acl shop.0.0.path path \/api\n {2}acl shop.0.0.path path_beg \/api\/\n/);
    assert.match(cfg, /acl shop.0.0.h0 req.hdr\(x-canary\) -m str 1\n/);
    assert.match(cfg, /acl shop.0.1.path path \/login\n/);
  });

  it('scales weights to HAProxy 0-256, renders timeouts and retries, disables services not connected', () => {
    const cfg = renderConfig(parseRoutes(SHOP, 'r.yaml'), OPTS);
    const shop0 = cfg.slice(cfg.indexOf('\nbackend shop.0'), cfg.indexOf('\nbackend shop.1'));
    assert.deepEqual(shop0.trim().split('\n'), [
      'backend shop.0',
      '  balance roundrobin',
      '  timeout server 2000ms',
      '  retries 2',
      '  retry-on conn-failure empty-response 503',
      '  option redispatch 1',
      '  # retry.backoff 100ms: not applied (HAProxy retries at once)',
      '  server web-v1 172.16.21.1:8080 weight 256',
      '  server web-v2 127.0.0.1:8080 weight 28 disabled # web-v2: no mesh connection yet',
    ]);
    assert.match(cfg, /backend admin.0\n {2}balance roundrobin\n {2}timeout server 1500ms\n/);
    assert.match(cfg, /backend no-route\n {2}http-request return status 404/);
  });

  it('reads and renders the example routes file of the README', () => {
    // dist/examples/l7-gateway → the source file beside this test's source
    const file = join(
      dirname(fileURLToPath(import.meta.url)),
      '..',
      '..',
      '..',
      'examples',
      'l7-gateway',
      'routes.example.yaml',
    );
    const routes = parseRoutes(readFileSync(file, 'utf8'), file);
    assert.deepEqual(
      routes.map((r) => r.name),
      ['shop', 'static'],
    );
    assert.deepEqual(backendServices(routes), ['web-v1', 'web-v2']);
    const cfg = renderConfig(routes, {
      ...OPTS,
      addresses: { 'web-v1': '172.16.30.1', 'web-v2': '172.16.31.1' },
    });
    assert.match(
      cfg,
      /server web-v1 172.16.30.1:8080 weight 90\n {2}server web-v2 172.16.31.1:8080 weight 10\n/,
    );
  });

  it('reads Gateway API durations', () => {
    assert.equal(parseDuration('1m30s'), 90_000);
    assert.equal(parseDuration('250ms'), 250);
    assert.equal(parseDuration('1.5s'), undefined);
  });

  const bad: { name: string; text: string; want: RegExp }[] = [
    { name: 'broken YAML', text: 'spec: {rules: [\n', want: /^r\.yaml:2:1: not valid YAML/ },
    {
      name: 'another kind',
      text: 'kind: TCPRoute\nspec: {}\n',
      want: /^r\.yaml:1:7: kind: must be HTTPRoute/,
    },
    {
      name: 'an unknown rule field',
      text: 'spec:\n  rules:\n    - {backendRefs: [{name: a, port: 80}], filters: []}\n',
      want: /^r\.yaml:3:44: spec\.rules\[0\]\.filters: unknown field/,
    },
    {
      name: 'a regular expression path',
      text: 'spec:\n  rules:\n    - matches: [{path: {type: RegularExpression, value: /a.*}}]\n      backendRefs: [{name: a, port: 80}]\n',
      want: /^r\.yaml:3:31: spec\.rules\[0\]\.matches\[0\]\.path\.type: must be Exact or PathPrefix/,
    },
    {
      name: 'a backend without a port',
      text: 'spec:\n  rules:\n    - backendRefs: [{name: a}]\n',
      want: /^r\.yaml:3:21: spec\.rules\[0\]\.backendRefs\[0\]\.port: is required/,
    },
    {
      name: 'a weight out of range',
      text: 'spec:\n  rules:\n    - backendRefs: [{name: a, port: 80, weight: -1}]\n',
      want: /backendRefs\[0\]\.weight: must be an integer 0-1000000/,
    },
    {
      name: 'a bad duration',
      text: 'spec:\n  rules:\n    - backendRefs: [{name: a, port: 80}]\n      timeouts: {request: 2 seconds}\n',
      want: /^r\.yaml:4:27: spec\.rules\[0\]\.timeouts\.request: "2 seconds" is not a duration/,
    },
    {
      name: 'a code HAProxy cannot retry',
      text: 'spec:\n  rules:\n    - backendRefs: [{name: a, port: 80}]\n      retry: {codes: [503, 599]}\n',
      want: /^r\.yaml:4:28: spec\.rules\[0\]\.retry\.codes\[1\]: HAProxy retries only on/,
    },
    {
      name: 'a rule without backends',
      text: 'spec:\n  rules:\n    - matches: []\n',
      want: /spec\.rules\[0\]\.backendRefs: needs at least one backend/,
    },
    {
      name: 'a duplicate route name',
      text: 'metadata: {name: a}\nspec: {}\n---\nmetadata: {name: a}\nspec: {}\n',
      want: /^r\.yaml:4:18: metadata\.name: "a" is used by an earlier route/,
    },
  ];
  for (const c of bad) {
    it(`refuses ${c.name}, naming file, line and field`, () => {
      assert.throws(
        () => parseRoutes(c.text, 'r.yaml'),
        (e: Error) => {
          assert.match(e.message, c.want);
          assert.equal(e.message.split('\n').length, 1);
          return true;
        },
      );
    });
  }

  it('names the missing haproxy binary and its package in one line', () => {
    assert.throws(
      () => findHaproxy('haproxy-not-here'),
      /the binary "haproxy-not-here" is not on PATH \(install the Debian package haproxy\)$/,
    );
  });

  it("reads HAProxy's show stat into per-rule, per-backend counters", () => {
    const csv = [
      '# pxname,svname,qcur,stot,hrsp_2xx,hrsp_5xx,wretr,status',
      'http,FRONTEND,0,10,9,1,,OPEN',
      'shop.0,web-v1,0,7,7,0,0,UP',
      'shop.0,web-v2,0,3,2,1,1,UP',
      'shop.0,BACKEND,0,10,9,1,1,UP',
      '',
    ].join('\n');
    assert.deepEqual(
      parseStat(csv).map((c) => [c.rule, c.backend, c.requests, c['2xx'], c['5xx'], c.retries]),
      [
        ['shop.0', 'web-v1', 7, 7, 0, 0],
        ['shop.0', 'web-v2', 3, 2, 1, 1],
        ['shop.0', 'BACKEND', 10, 9, 1, 1],
      ],
    );
  });
});
