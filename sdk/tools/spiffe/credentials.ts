// mTLS for grpc-js from an X509Source. Both ends present their X.509-SVID and accept a peer only
// when its certificate chains to the trust bundle (node's TLS checks that) and carries a SPIFFE ID
// of our trust domain (checked here: SVIDs have no DNS names, so the usual hostname check is
// replaced by this one). The credentials follow the source through grpc-js certificate providers:
// after a rotation new connections use the new SVID and bundle, connections already up stay up.
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { AuthContext } from '@grpc/grpc-js/build/src/auth-context.js';
import type {
  CaCertificateUpdateListener,
  CertificateProvider,
  IdentityCertificateUpdateListener,
} from '@grpc/grpc-js/build/src/certificate-provider.js';
import { certificateFromDer } from './cert-cache.js';
import type { Peer } from './peer.js';
import type { X509Source } from './source.js';
import { parseSpiffeId, type SpiffeId } from './spiffe-id.js';

/** One provider serves both the CA (bundle) and the identity (SVID) updates grpc-js listens for. */
class SourceProvider implements CertificateProvider {
  private readonly ca = new Set<CaCertificateUpdateListener>();
  private readonly identity = new Set<IdentityCertificateUpdateListener>();
  private unsubscribe: (() => void) | undefined;

  constructor(private readonly source: X509Source) {}

  private subscribe(): void {
    this.unsubscribe ??= this.source.onUpdate(() => {
      for (const l of [...this.ca]) this.sendCa(l);
      for (const l of [...this.identity]) this.sendIdentity(l);
    });
  }

  private maybeUnsubscribe(): void {
    if (this.ca.size === 0 && this.identity.size === 0) {
      this.unsubscribe?.();
      this.unsubscribe = undefined;
    }
  }

  private sendCa(l: CaCertificateUpdateListener): void {
    try {
      l({ caCertificate: Buffer.from(this.source.bundlePem()) });
    } catch {
      l(null); // the source is closed: no certificates any more
    }
  }

  private sendIdentity(l: IdentityCertificateUpdateListener): void {
    try {
      const svid = this.source.svid();
      l({ certificate: Buffer.from(svid.certChainPem), privateKey: Buffer.from(svid.keyPem) });
    } catch {
      l(null);
    }
  }

  // grpc-js registers its watcher after adding the listener: the first update must come later.
  addCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.add(l);
    this.subscribe();
    process.nextTick(() => this.ca.has(l) && this.sendCa(l));
  }

  removeCaCertificateListener(l: CaCertificateUpdateListener): void {
    this.ca.delete(l);
    this.maybeUnsubscribe();
  }

  addIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.identity.add(l);
    this.subscribe();
    process.nextTick(() => this.identity.has(l) && this.sendIdentity(l));
  }

  removeIdentityCertificateListener(l: IdentityCertificateUpdateListener): void {
    this.identity.delete(l);
    this.maybeUnsubscribe();
  }
}

/** The SPIFFE ID in a TLS peer certificate (node's `subjectaltname`), or an Error saying why not. */
export function spiffeIdOfPeer(cert: Pick<PeerCertificate, 'subjectaltname'> | undefined): SpiffeId | Error {
  const uris = (cert?.subjectaltname ?? '')
    .split(', ')
    .filter((s) => s.startsWith('URI:'))
    .map((s) => s.slice('URI:'.length));
  if (uris.length !== 1)
    return new Error(`the peer certificate has ${uris.length} URI SANs, not one SPIFFE ID`);
  try {
    return parseSpiffeId(uris[0]);
  } catch (e) {
    return e as Error;
  }
}

export interface SpiffeCredentials {
  server: grpc.ServerCredentials;
  channel: grpc.ChannelCredentials;
}

/** Server and channel credentials for mTLS with SVIDs from `source`. */
export function spiffeCredentials(source: X509Source): SpiffeCredentials {
  const provider = new SourceProvider(source);
  const checkServerIdentity = (_host: string, cert: PeerCertificate): Error | undefined => {
    const id = spiffeIdOfPeer(cert);
    if (id instanceof Error) return id;
    const ours = source.svid().spiffeId.trustDomain;
    if (id.trustDomain !== ours) {
      return new Error(`the server's SPIFFE ID ${id.id} is not in our trust domain ${ours}`);
    }
    return undefined;
  };
  return {
    // grpc-js's factory swaps its two provider arguments; one provider for both makes that moot.
    server: grpc.experimental.createCertificateProviderServerCredentials(provider, provider, true),
    channel: grpc.experimental.createCertificateProviderChannelCredentials(provider, provider, {
      checkServerIdentity,
    }),
  };
}

/**
 * The caller from a server call's auth context: undefined on a plaintext transport (unix socket,
 * insecure mode), an Error when the TLS peer has no usable SPIFFE ID.
 */
export function peerFromAuthContext(auth: AuthContext | null | undefined): Peer | Error | undefined {
  if (auth?.transportSecurityType !== 'ssl') return undefined;
  const cert = auth.sslPeerCertificate;
  const id = spiffeIdOfPeer(cert);
  if (id instanceof Error) return id;
  if (!cert?.raw) return new Error('the TLS peer sent no certificate');
  return { spiffeId: id, publicKey: certificateFromDer(cert.raw).publicKey };
}
