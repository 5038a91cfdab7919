import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { type CA, newCA } from './ca.js';
import {
  bundleCertificates,
  certificateFromBase64,
  certificateFromDer,
  issuedByBundle,
} from './cert-cache.js';
import { spiffeIdOfCertificate } from './spiffe-id.js';

describe('certificate cache', () => {
  let ca: CA;
  let other: CA;
  let leafB64: string;

  before(async () => {
    ca = await newCA('example.org');
    other = await newCA('example.org');
    const { certPem } = await ca.issue('spiffe://example.org/nsc');
    leafB64 = new X509Certificate(certPem).raw.toString('base64');
  });

  it('parses a certificate once, whether it comes as base64 or DER', () => {
    const a = certificateFromBase64(leafB64);
    assert.equal(certificateFromBase64(leafB64), a);
    assert.equal(certificateFromDer(Buffer.from(leafB64, 'base64')), a);
    assert.equal(spiffeIdOfCertificate(a).id, 'spiffe://example.org/nsc');
  });

  it('re-reads the bundle only when it changes', () => {
    const roots = bundleCertificates(ca.bundlePem);
    assert.equal(bundleCertificates(ca.bundlePem), roots);
    assert.notEqual(bundleCertificates(other.bundlePem), roots);
  });

  it('says whether a leaf is issued by a CA of the bundle, per bundle', () => {
    const leaf = certificateFromBase64(leafB64);
    assert.equal(issuedByBundle(leaf, ca.bundlePem), true);
    assert.equal(issuedByBundle(leaf, other.bundlePem), false, 'another CA of the same trust domain');
    assert.equal(issuedByBundle(leaf, ca.bundlePem), true, 'the verdict follows the bundle in use');
  });

  it('refuses what is not a certificate', () => {
    assert.throws(() => certificateFromBase64('bm90IGEgY2VydA=='));
  });
});
