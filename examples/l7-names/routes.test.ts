import * as assert from 'node:assert/strict';
import { parseRoutes, pickRoute, upstreamURL } from './routes.js';

describe('l7-names routes', () => {
  const routes = parseRoutes([
    '/=http://web.my-vl3.:8080',
    '/api=http://api:8080/v1',
    '/api/admin=http://admin:9000',
  ]);

  const cases: { path: string; want: string | undefined }[] = [
    { path: '/', want: 'http://web.my-vl3.:8080/' },
    { path: '/index.html?x=1', want: 'http://web.my-vl3.:8080/index.html?x=1' },
    { path: '/api', want: 'http://api:8080/v1/api' },
    { path: '/api/users?id=2', want: 'http://api:8080/v1/api/users?id=2' },
    { path: '/apix', want: 'http://web.my-vl3.:8080/apix' },
    { path: '/api/admin/x', want: 'http://admin:9000/api/admin/x' },
  ];
  for (const { path, want } of cases) {
    it(`routes ${path} by the longest prefix at a segment boundary`, () => {
      const r = pickRoute(routes, path);
      assert.equal(r && upstreamURL(r, path).href, want);
    });
  }

  it('has no route when no prefix matches', () => {
    assert.equal(pickRoute(parseRoutes(['/api=http://api:8080']), '/other'), undefined);
  });

  const bad: { args: string[]; want: RegExp }[] = [
    { args: [], want: /no routes/ },
    { args: ['api=http://api:8080'], want: /route "api=http:\/\/api:8080" is not PATH_PREFIX=URL/ },
    { args: ['/=not a url'], want: /"not a url" is not a URL/ },
    { args: ['/=https://web:8443'], want: /only http:\/\/ upstreams/ },
  ];
  for (const { args, want } of bad) {
    it(`rejects ${JSON.stringify(args)}`, () => assert.throws(() => parseRoutes(args), want));
  }
});
