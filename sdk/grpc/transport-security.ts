// How a daemon's gRPC links are secured, in one place for serve() and ClientPool:
//  - with an identity (an X509Source behind `credentials`): mTLS on every tcp link, both ways;
//  - unix sockets stay plaintext (the kernel is the boundary there: the socket file is created
//    0660, owned by NSM_SOCKET_GROUP when set) — upstream uses TLS on them too, we do not yet;
//  - without an identity, tcp is plaintext, and a non-loopback tcp listener is refused unless
//    insecure mode was chosen explicitly (NSM_INSECURE=true), so a mesh cannot end up serving
//    unauthenticated on the network by accident.
// A daemon's main calls `setup()` once with what it opened (spiffe/config.ts); serve() and
// ClientPool use that unless given their own (tests).
import { isIP } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { ConfigError } from '../tools/config/config-error.js';
import { parseNsmUrl } from '../tools/config/url.js';
import type { SpiffeCredentials } from '../tools/spiffe/credentials.js';
import type { X509Source } from '../tools/spiffe/source.js';

export interface TransportSecurity {
  /** mTLS credentials from the daemon's identity; absent: no identity. */
  readonly credentials?: SpiffeCredentials;
  /** The identity itself: updatetoken signs path tokens with its SVID. */
  readonly source?: X509Source;
  /** NSM_INSECURE: plaintext tcp on any address is allowed. */
  readonly insecure: boolean;
  /** Group id given to unix sockets (NSM_SOCKET_GROUP); absent: the process's group. */
  readonly socketGroup?: number;
}

const NONE: TransportSecurity = { insecure: false };
let processDefault: TransportSecurity = NONE;

/** Sets what serve() and ClientPool use by default (called from a daemon's main; tests reset it). */
export function setup(security: TransportSecurity = NONE): void {
  processDefault = security;
}

export function defaultSecurity(): TransportSecurity {
  return processDefault;
}

function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1';
  return false;
}

/** Credentials to listen on `url` with; throws a ConfigError for plaintext on the network. */
export function serverCredentials(url: string, sec: TransportSecurity): grpc.ServerCredentials {
  if (url.startsWith('unix://')) return grpc.ServerCredentials.createInsecure();
  if (sec.credentials) return sec.credentials.server;
  const parsed = parseNsmUrl(url, { listen: true });
  const host = parsed.ok && parsed.url.scheme === 'tcp' ? parsed.url.host : '';
  if (!sec.insecure && !isLoopback(host)) {
    throw new ConfigError(
      'NSM_INSECURE',
      `refusing to serve ${url} without TLS on a non-loopback address: give this daemon an identity ` +
        '(NSM_CERT_FILE, NSM_KEY_FILE, NSM_BUNDLE_FILE) or set NSM_INSECURE=true',
    );
  }
  return grpc.ServerCredentials.createInsecure();
}

/** Credentials to dial `url` with: mTLS for tcp when we have an identity. */
export function channelCredentials(url: string, sec: TransportSecurity): grpc.ChannelCredentials {
  if (url.startsWith('unix://') || !sec.credentials) return grpc.credentials.createInsecure();
  return sec.credentials.channel;
}
