// An X509Source read from three PEM files: the SVID's certificate chain, its key and the trust
// bundle (NSM_CERT_FILE, NSM_KEY_FILE, NSM_BUNDLE_FILE). The files are checked every
// POLL_INTERVAL_MS; when one changed and the three read back as a consistent set (the key matches
// the certificate, the certificate chains to the bundle, it is a valid SVID), the new set replaces
// the old and listeners run. A set caught half-written (the key already new, the certificate not
// yet) is not an error: it is read again at the next change, and the old set stays in use
// meanwhile, so a rotation never leaves the daemon without an identity.
import { createPrivateKey, createPublicKey, X509Certificate } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { getErrorMessage } from '../../errors/index.js';
import { logger } from '../log.js';
import type { Svid, X509Source } from './source.js';
import { spiffeIdOfCertificate } from './spiffe-id.js';

const log = logger('spiffe');

export const DEFAULT_POLL_INTERVAL_MS = 1_000;
/** Longest certificate chain followed from the leaf to a bundle CA. */
const MAX_CHAIN_DEPTH = 8;

export interface SvidFiles {
  certFile: string;
  keyFile: string;
  bundleFile: string;
}

export interface FileSourceOptions extends SvidFiles {
  pollIntervalMs?: number;
  /** Epoch milliseconds (tests). */
  now?: () => number;
}

/** Splits a PEM file into its certificates. */
export function pemCertificates(pem: string): X509Certificate[] {
  const blocks = pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
  return blocks.map((b) => new X509Certificate(b));
}

export function chainsTo(
  leaf: X509Certificate,
  intermediates: X509Certificate[],
  roots: X509Certificate[],
): boolean {
  let cur = leaf;
  for (let depth = 0; depth < MAX_CHAIN_DEPTH; depth++) {
    if (roots.some((r) => cur.checkIssued(r) && cur.verify(r.publicKey))) return true;
    const up = intermediates.find((i) => i !== cur && cur.checkIssued(i) && cur.verify(i.publicKey));
    if (!up) return false;
    cur = up;
  }
  return false;
}

interface Loaded {
  svid: Svid;
  bundlePem: string;
}

/** Reads and checks the three files; throws an Error naming the file and what is wrong. */
export async function loadSvidFiles(files: SvidFiles, now = Date.now()): Promise<Loaded> {
  const read = (what: string, path: string) =>
    readFile(path, 'utf8').catch((e: unknown) => {
      throw new Error(`${what} ${path}: ${getErrorMessage(e)}`);
    });
  const [certPem, keyPem, bundlePem] = await Promise.all([
    read('certificate file', files.certFile),
    read('key file', files.keyFile),
    read('bundle file', files.bundleFile),
  ]);
  const at = (what: string, path: string, e: unknown) => new Error(`${what} ${path}: ${getErrorMessage(e)}`);
  let chain: X509Certificate[];
  try {
    chain = pemCertificates(certPem);
    if (chain.length === 0) throw new Error('no PEM certificate in it');
  } catch (e) {
    throw at('certificate file', files.certFile, e);
  }
  let roots: X509Certificate[];
  try {
    roots = pemCertificates(bundlePem);
    if (roots.length === 0) throw new Error('no PEM certificate in it');
  } catch (e) {
    throw at('bundle file', files.bundleFile, e);
  }
  const leaf = chain[0];
  let key: ReturnType<typeof createPrivateKey>;
  try {
    key = createPrivateKey(keyPem);
  } catch (e) {
    throw at('key file', files.keyFile, e);
  }
  const der = (k: ReturnType<typeof createPublicKey>) => k.export({ type: 'spki', format: 'der' });
  if (!der(createPublicKey(key)).equals(der(leaf.publicKey))) {
    throw new Error(`key file ${files.keyFile}: the key does not match the certificate in ${files.certFile}`);
  }
  let spiffeId: Svid['spiffeId'];
  try {
    spiffeId = spiffeIdOfCertificate(leaf);
  } catch (e) {
    throw at('certificate file', files.certFile, e);
  }
  const notAfterMs = Date.parse(leaf.validTo);
  if (notAfterMs <= now) {
    throw new Error(`certificate file ${files.certFile}: expired at ${new Date(notAfterMs).toISOString()}`);
  }
  if (!chainsTo(leaf, chain.slice(1), roots)) {
    throw new Error(
      `certificate file ${files.certFile}: not issued by a CA of the bundle ${files.bundleFile}`,
    );
  }
  return {
    svid: {
      spiffeId,
      certChainPem: certPem,
      keyPem: key.export({ type: 'pkcs8', format: 'pem' }).toString(),
      key,
      leaf,
      notAfterMs,
    },
    bundlePem,
  };
}

class FileSource implements X509Source {
  readonly kind = 'files';
  private readonly listeners = new Set<() => void>();
  private timer: NodeJS.Timeout | undefined;
  private stamp = '';
  /** The stamp of a set found unusable: not read again (nor logged again) until the files change. */
  private failedStamp = '';
  private closed = false;
  private polling = false;

  constructor(
    private readonly opts: FileSourceOptions,
    private current: Loaded,
  ) {}

  async start(): Promise<void> {
    this.stamp = await this.fileStamp();
    this.timer = setInterval(() => void this.poll(), this.opts.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS);
  }

  /** Identity, size and time of the three files: a change in any of them means read again. */
  private async fileStamp(): Promise<string> {
    const { certFile, keyFile, bundleFile } = this.opts;
    const parts = await Promise.all(
      [certFile, keyFile, bundleFile].map((f) =>
        stat(f).then(
          (s) => `${s.ino}:${s.size}:${s.mtimeMs}`,
          () => 'missing',
        ),
      ),
    );
    return parts.join('|');
  }

  private async poll(): Promise<void> {
    if (this.polling || this.closed) return;
    this.polling = true;
    let stamp = '';
    try {
      stamp = await this.fileStamp();
      if (stamp === this.stamp || stamp === this.failedStamp) return;
      const loaded = await loadSvidFiles(this.opts, this.opts.now?.() ?? Date.now());
      if (this.closed) return;
      this.stamp = stamp;
      this.current = loaded;
      log.info(
        { spiffeId: loaded.svid.spiffeId.id, notAfter: new Date(loaded.svid.notAfterMs).toISOString() },
        'identity files reloaded',
      );
      for (const l of [...this.listeners]) l();
    } catch (e) {
      // Half-written or broken: keep the set in use, read again at the next change.
      this.failedStamp = stamp;
      log.warn(
        { err: getErrorMessage(e) },
        'identity files changed but cannot be used yet; keeping the previous ones',
      );
    } finally {
      this.polling = false;
    }
  }

  private check(): void {
    if (this.closed) throw new Error('the identity source is closed');
  }

  svid(): Svid {
    this.check();
    return this.current.svid;
  }

  bundlePem(): string {
    this.check();
    return this.current.bundlePem;
  }

  onUpdate(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.timer);
    this.listeners.clear();
  }
}

/** Reads the files (throwing when they are not a usable set) and starts watching them. */
export async function openFileSource(opts: FileSourceOptions): Promise<X509Source> {
  const src = new FileSource(opts, await loadSvidFiles(opts, opts.now?.() ?? Date.now()));
  await src.start();
  return src;
}
