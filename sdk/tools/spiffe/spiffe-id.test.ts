import assert from 'node:assert/strict';
import { newCA } from './ca.js';
import { parseSpiffeId, spiffeIdOfCertificate } from './spiffe-id.js';

describe('SPIFFE IDs', () => {
  const good = [
    {
      input: 'spiffe://example.org/ns/nsm-system/sa/nsmgr',
      td: 'example.org',
      path: '/ns/nsm-system/sa/nsmgr',
    },
    { input: 'spiffe://example.org', td: 'example.org', path: '' },
    { input: 'spiffe://td-1_x/a.b-c_d', td: 'td-1_x', path: '/a.b-c_d' },
  ];
  for (const c of good) {
    it(`parses ${c.input}`, () => {
      assert.deepEqual(parseSpiffeId(c.input), { id: c.input, trustDomain: c.td, path: c.path });
    });
  }
  const bad = [
    { input: 'http://example.org/x', want: /must start with spiffe:\/\// },
    { input: 'spiffe://Example.org/x', want: /trust domain must be lower-case/ },
    { input: 'spiffe:///x', want: /trust domain/ },
    { input: 'spiffe://example.org/', want: /bad path segment ""/ },
    { input: 'spiffe://example.org/a//b', want: /bad path segment ""/ },
    { input: 'spiffe://example.org/a/../b', want: /bad path segment "\.\."/ },
    { input: 'spiffe://example.org/a b', want: /bad path segment "a b"/ },
    { input: `spiffe://example.org/${'a'.repeat(2100)}`, want: /longer than 2048 bytes/ },
  ];
  for (const c of bad) {
    it(`refuses ${c.input.slice(0, 40)}`, () => assert.throws(() => parseSpiffeId(c.input), c.want));
  }

  it('reads the SPIFFE ID of an issued SVID and of the CA; the CA issues only in its trust domain', async () => {
    const ca = await newCA('example.org');
    const svid = await ca.issue('spiffe://example.org/nsmgr');
    assert.equal(spiffeIdOfCertificate(svid.certPem).id, 'spiffe://example.org/nsmgr');
    // The CA certificate names its trust domain, which is a SPIFFE ID too; a plain TLS cert has none.
    assert.equal(spiffeIdOfCertificate(ca.bundlePem).id, 'spiffe://example.org');
    await assert.rejects(ca.issue('spiffe://other.org/x'), /not in the trust domain example.org/);
  });
});
