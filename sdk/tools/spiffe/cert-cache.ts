// Parsed certificates and their verdicts, remembered. Every Request carries the caller's token with
// its certificate (x5c) and arrives over mTLS with the peer's; parsing them, re-reading the trust
// bundle's PEM and checking the chain's signatures on every call cost a hop more than signing
// its own token. The certificates on a node are few (one per workload, renewed now and then), so
// a small LRU keyed by the encoded certificate holds them all; verdicts hang off the parsed
// objects (WeakMap), so they go with them.
import { X509Certificate } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { chainsTo, pemCertificates } from './file-source.js';

/** Distinct certificates remembered; a node's workloads and their renewals fit many times over. */
const MAX_CERTIFICATES = 1024;

const byEncoding = new LRUCache<string, X509Certificate>({ max: MAX_CERTIFICATES });

/** The certificate of a base64 DER (a JWT's x5c entry), parsed once. */
export function certificateFromBase64(b64: string): X509Certificate {
  let cert = byEncoding.get(b64);
  if (!cert) {
    cert = new X509Certificate(Buffer.from(b64, 'base64'));
    byEncoding.set(b64, cert);
  }
  return cert;
}

/** The certificate of a DER buffer (a TLS peer's), parsed once. */
export function certificateFromDer(der: Buffer): X509Certificate {
  return certificateFromBase64(der.toString('base64'));
}

let lastBundle: { pem: string; roots: X509Certificate[] } | undefined;

/** The CA certificates of a trust bundle (PEM), parsed again only when the bundle changes. */
export function bundleCertificates(pem: string): X509Certificate[] {
  if (lastBundle?.pem !== pem) lastBundle = { pem, roots: pemCertificates(pem) };
  return lastBundle.roots;
}

const chained = new WeakMap<X509Certificate, WeakMap<X509Certificate[], boolean>>();

/** chainsTo(leaf, [], bundle) for a leaf signed directly by a bundle CA, remembered per bundle. */
export function issuedByBundle(leaf: X509Certificate, bundlePem: string): boolean {
  const roots = bundleCertificates(bundlePem);
  let verdicts = chained.get(leaf);
  if (!verdicts) {
    verdicts = new WeakMap();
    chained.set(leaf, verdicts);
  }
  let ok = verdicts.get(roots);
  if (ok === undefined) {
    ok = chainsTo(leaf, [], roots);
    verdicts.set(roots, ok);
  }
  return ok;
}
