// Where a daemon's identity comes from. An X509Source hands out the current X.509-SVID (the daemon's
// SPIFFE ID, certificate chain and key) and the trust bundle (the CAs whose SVIDs it accepts), and
// says when either changed, so credentials can follow a rotation without dropping connections.
// Implementations: files (file-source.ts); the SPIFFE Workload API (SPIFFE_ENDPOINT_SOCKET) plugs in
// here with the same contract.
import type { KeyObject, X509Certificate } from 'node:crypto';
import type { SpiffeId } from './spiffe-id.js';

export interface Svid {
  readonly spiffeId: SpiffeId;
  /** PEM: the leaf first, then any intermediates. */
  readonly certChainPem: string;
  /** PEM (PKCS#8) of the leaf's private key. */
  readonly keyPem: string;
  readonly key: KeyObject;
  readonly leaf: X509Certificate;
  /** Epoch milliseconds. */
  readonly notAfterMs: number;
}

export interface X509Source {
  /** What kind of source, for logs ("files", "workload-api"). */
  readonly kind: string;
  /** The current SVID. Throws after close. */
  svid(): Svid;
  /** PEM of the trust bundle's CA certificates. Throws after close. */
  bundlePem(): string;
  /**
   * `listener` runs after each change of the SVID or the bundle (never synchronously from here);
   * the returned function unsubscribes. No calls after close.
   */
  onUpdate(listener: () => void): () => void;
  /** Stops watching; svid() and bundlePem() throw afterwards. Safe to call more than once. */
  close(): Promise<void>;
}
