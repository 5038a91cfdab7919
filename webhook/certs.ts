// The webhook's own TLS: a CA and a serving certificate made at every start (ECDSA P-256, WebCrypto
// through @peculiar/x509), so no cert-manager or Secret is needed. The apiserver trusts the CA through the
// caBundle the webhook writes into its MutatingWebhookConfiguration; the serving certificate names the
// Service as the apiserver dials it (<svc>.<ns>.svc).
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

/** A restarted webhook makes new ones anyway; a year only bounds a forgotten process. */
const VALIDITY_MS = 365 * 24 * 3600 * 1000;
const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface ServingCerts {
  /** PEM of the CA: the caBundle. */
  caPem: string;
  /** PEM of the serving certificate followed by the CA (the chain the server presents). */
  certPem: string;
  /** PEM (PKCS#8) of the serving certificate's key. */
  keyPem: string;
}

/** DNS names the apiserver (and a curious human) may use for the Service. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  return [
    service,
    `${service}.${namespace}`,
    `${service}.${namespace}.svc`,
    `${service}.${namespace}.svc.cluster.local`,
  ];
}

export async function makeServingCerts(dnsNames: string[], now = new Date()): Promise<ServingCerts> {
  // @peculiar/x509 signs with Node's global WebCrypto (globalThis.crypto, Node ≥ 19)
  const crypto = webcrypto;
  const notAfter = new Date(now.getTime() + VALIDITY_MS);
  const caKeys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${dnsNames[0]} webhook CA`,
    keys: caKeys,
    signingAlgorithm: ALG,
    notBefore: now,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const keys = (await crypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  const cert = await x509.X509CertificateGenerator.create({
    subject: `CN=${dnsNames.at(-2) ?? dnsNames[0]}`,
    issuer: ca.subject,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    signingAlgorithm: ALG,
    notBefore: now,
    notAfter,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns', value }))),
      await x509.AuthorityKeyIdentifierExtension.create(ca),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
  return {
    caPem: ca.toString('pem'),
    certPem: `${cert.toString('pem')}\n${ca.toString('pem')}\n`,
    keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
  };
}
