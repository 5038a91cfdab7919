// A small certificate authority for a trust domain: issues X.509-SVIDs (ECDSA P-256, one URI SAN,
// usable for both ends of mTLS) and writes them as the files a FileSource reads. The sandbox, the
// demo and the tests use it so the TLS path is exercised without SPIRE; production gets its SVIDs
// from SPIRE (or any CA) instead.
import { webcrypto } from 'node:crypto';
import { chmod, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import type { SvidFiles } from './file-source.js';
import { parseSpiffeId } from './spiffe-id.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
/** Default lifetime of an issued SVID; the CA's own is ten times longer. */
export const DEFAULT_SVID_TTL_MS = 24 * 3600_000;
/** Issued certificates start this much in the past, so a peer's slightly slow clock accepts them. */
const BACKDATE_MS = 60_000;

export interface IssuedSvid {
  certPem: string;
  keyPem: string;
}

export interface IssueOptions {
  /** Epoch milliseconds; default now. */
  now?: number;
  ttlMs?: number;
}

export interface CA {
  readonly trustDomain: string;
  /** PEM of the CA certificate: the trust bundle. */
  readonly bundlePem: string;
  issue(spiffeId: string, opts?: IssueOptions): Promise<IssuedSvid>;
  /** Issues and writes `<name>.crt`, `<name>.key` (0600) and `bundle.pem` under `dir`, each replaced atomically. */
  writeSvid(dir: string, name: string, spiffeId: string, opts?: IssueOptions): Promise<SvidFiles>;
}

async function writeAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data, { mode });
  await chmod(tmp, mode);
  await rename(tmp, path);
}

export async function newCA(trustDomain: string, now = Date.now()): Promise<CA> {
  parseSpiffeId(`spiffe://${trustDomain}`);
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, [
    'sign',
    'verify',
  ])) as webcrypto.CryptoKeyPair;
  const caCert = await x509.X509CertificateGenerator.createSelfSigned({
    name: `CN=${trustDomain} CA`,
    keys: caKeys,
    signingAlgorithm: ALG,
    notBefore: new Date(now - BACKDATE_MS),
    notAfter: new Date(now + 10 * DEFAULT_SVID_TTL_MS * 365),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }]),
      await x509.SubjectKeyIdentifierExtension.create(caKeys.publicKey),
    ],
  });
  const bundlePem = `${caCert.toString('pem').trimEnd()}\n`;

  const issue = async (spiffeId: string, opts: IssueOptions = {}): Promise<IssuedSvid> => {
    const id = parseSpiffeId(spiffeId);
    if (id.trustDomain !== trustDomain) {
      throw new Error(`${spiffeId} is not in the trust domain ${trustDomain} of this CA`);
    }
    const at = opts.now ?? Date.now();
    const keys = (await webcrypto.subtle.generateKey(ALG, true, [
      'sign',
      'verify',
    ])) as webcrypto.CryptoKeyPair;
    const cert = await x509.X509CertificateGenerator.create({
      subject: `O=SPIFFE`,
      issuer: caCert.subject,
      publicKey: keys.publicKey,
      signingKey: caKeys.privateKey,
      signingAlgorithm: ALG,
      notBefore: new Date(at - BACKDATE_MS),
      notAfter: new Date(at + (opts.ttlMs ?? DEFAULT_SVID_TTL_MS)),
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(
          x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement,
          true,
        ),
        new x509.ExtendedKeyUsageExtension([
          x509.ExtendedKeyUsage.serverAuth,
          x509.ExtendedKeyUsage.clientAuth,
        ]),
        new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffeId }], true),
        await x509.AuthorityKeyIdentifierExtension.create(caCert),
      ],
    });
    const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
    return {
      certPem: `${cert.toString('pem').trimEnd()}\n`,
      keyPem: x509.PemConverter.encode(pkcs8, 'PRIVATE KEY'),
    };
  };

  return {
    trustDomain,
    bundlePem,
    issue,
    async writeSvid(dir, name, spiffeId, opts) {
      const svid = await issue(spiffeId, opts);
      await mkdir(dir, { recursive: true });
      const files = {
        certFile: join(dir, `${name}.crt`),
        keyFile: join(dir, `${name}.key`),
        bundleFile: join(dir, 'bundle.pem'),
      };
      await writeAtomic(files.bundleFile, bundlePem, 0o644);
      // Key first: a reader that sees the new certificate also finds its key.
      await writeAtomic(files.keyFile, svid.keyPem, 0o600);
      await writeAtomic(files.certFile, svid.certPem, 0o644);
      return files;
    },
  };
}
