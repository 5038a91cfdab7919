// The identity settings every daemon's schema spreads in (`...identitySchema`) and how a main turns
// them into transport security. Sources, in order:
//  1. certificate, key and bundle files (NSM_CERT_FILE, NSM_KEY_FILE, NSM_BUNDLE_FILE: all three or
//     none), reloaded when they change;
//  2. otherwise no identity: plaintext, on unix sockets and loopback tcp only, unless NSM_INSECURE=true
//     allows plaintext tcp anywhere (the demo, a sandbox without certificates). Insecure mode is
//     logged at warn level at start, so nobody runs it without being told.
import { readFileSync } from 'node:fs';
import { getErrorMessage } from '../../errors/index.js';
import { setup, type TransportSecurity } from '../../grpc/transport-security.js';
import { ConfigError } from '../config/config-error.js';
import { t } from '../config/types.js';
import type { Closable } from '../daemon.js';
import { closeOnce } from '../daemon.js';
import { logger } from '../log.js';
import { spiffeCredentials } from './credentials.js';
import { openFileSource } from './file-source.js';
import type { X509Source } from './source.js';
import { openWorkloadApiSource } from './workload-source.js';

const log = logger('spiffe');

export const identitySchema = {
  spiffeEndpointSocket: t.string({
    env: 'SPIFFE_ENDPOINT_SOCKET',
    description:
      "The SPIFFE Workload API (unix:///path, e.g. SPIRE agent's socket): this daemon's X.509-SVID and bundle come from it, rotations included. Takes precedence over the files.",
  }),
  certFile: t.string({
    env: 'NSM_CERT_FILE',
    description:
      "PEM file of this daemon's X.509-SVID (leaf first); with NSM_KEY_FILE and NSM_BUNDLE_FILE turns on mTLS. Reloaded on change.",
  }),
  keyFile: t.string({
    env: 'NSM_KEY_FILE',
    description: "PEM file of the SVID's private key.",
  }),
  bundleFile: t.string({
    env: 'NSM_BUNDLE_FILE',
    description: 'PEM file of the trust bundle: the CA certificates whose SVIDs this daemon accepts.',
  }),
  insecure: t.bool({
    env: 'NSM_INSECURE',
    description:
      'Without an identity, allow plaintext tcp on non-loopback addresses (demo and sandbox only).',
    default: 'false',
  }),
  socketGroup: t.string({
    env: 'NSM_SOCKET_GROUP',
    description: 'Group (name or gid) of the unix sockets this daemon creates (mode 0660); default: its own.',
  }),
};

export interface IdentityConfig {
  spiffeEndpointSocket?: string;
  certFile?: string;
  keyFile?: string;
  bundleFile?: string;
  insecure: boolean;
  socketGroup?: string;
}

/** A group name from /etc/group, or a numeric gid. */
export function resolveGroup(raw: string, groupFile = '/etc/group'): number {
  if (/^\d+$/.test(raw)) return Number(raw);
  let text = '';
  try {
    text = readFileSync(groupFile, 'utf8');
  } catch (e) {
    throw new ConfigError('NSM_SOCKET_GROUP', `cannot read ${groupFile}: ${getErrorMessage(e)}`, raw);
  }
  for (const line of text.split('\n')) {
    const [name, , gid] = line.split(':');
    if (name === raw && gid && /^\d+$/.test(gid)) return Number(gid);
  }
  throw new ConfigError('NSM_SOCKET_GROUP', `no such group in ${groupFile}`, raw);
}

export interface Identity extends Closable {
  readonly security: TransportSecurity;
  readonly source?: X509Source;
}

function fromSource(source: X509Source, socketGroup: number | undefined): Identity {
  const svid = source.svid();
  log.info(
    { spiffeId: svid.spiffeId.id, notAfter: new Date(svid.notAfterMs).toISOString(), source: source.kind },
    'identity: mTLS on every tcp link',
  );
  return {
    source,
    security: { credentials: spiffeCredentials(source), source, insecure: false, socketGroup },
    close: closeOnce(() => source.close()),
  };
}

/** Opens the configured source (or none); throws a ConfigError naming the variable at fault. */
export async function openIdentity(config: IdentityConfig): Promise<Identity> {
  const socketGroup = config.socketGroup ? resolveGroup(config.socketGroup) : undefined;
  if (config.spiffeEndpointSocket) {
    if (config.insecure) {
      throw new ConfigError('NSM_INSECURE', 'cannot be true when SPIFFE_ENDPOINT_SOCKET is set', 'true');
    }
    let source: X509Source;
    try {
      source = await openWorkloadApiSource({ socket: config.spiffeEndpointSocket });
    } catch (e) {
      throw new ConfigError('SPIFFE_ENDPOINT_SOCKET', getErrorMessage(e), config.spiffeEndpointSocket);
    }
    return fromSource(source, socketGroup);
  }
  const files = {
    NSM_CERT_FILE: config.certFile,
    NSM_KEY_FILE: config.keyFile,
    NSM_BUNDLE_FILE: config.bundleFile,
  };
  const set = Object.entries(files).filter(([, v]) => v);
  if (set.length > 0 && set.length < 3) {
    const missing = Object.entries(files).find(([, v]) => !v)![0];
    throw new ConfigError(
      missing,
      `is required when ${set.map(([k]) => k).join(' and ')} ${set.length > 1 ? 'are' : 'is'} set`,
    );
  }
  if (set.length === 3) {
    if (config.insecure) {
      throw new ConfigError(
        'NSM_INSECURE',
        'cannot be true when the identity files (NSM_CERT_FILE...) are set',
        'true',
      );
    }
    let source: X509Source;
    try {
      source = await openFileSource({
        certFile: config.certFile!,
        keyFile: config.keyFile!,
        bundleFile: config.bundleFile!,
      });
    } catch (e) {
      const message = getErrorMessage(e);
      // Blame the variable of the file at fault (loadSvidFiles names it first).
      const env = message.startsWith('key file')
        ? 'NSM_KEY_FILE'
        : message.startsWith('bundle file')
          ? 'NSM_BUNDLE_FILE'
          : 'NSM_CERT_FILE';
      throw new ConfigError(env, message);
    }
    return fromSource(source, socketGroup);
  }
  if (config.insecure) {
    log.warn(
      'INSECURE MODE (NSM_INSECURE=true): no identity, plaintext gRPC on every link, callers are not ' +
        'authenticated and path tokens are not signed. For demos and sandboxes only.',
    );
  } else {
    log.debug(
      'identity: none (plaintext on unix sockets and loopback tcp only; set NSM_CERT_FILE... for mTLS)',
    );
  }
  return { security: { insecure: config.insecure, socketGroup }, close: async () => {} };
}

/**
 * For a daemon's main: opens the identity, makes it the process's transport security, starts the
 * daemon; closing closes the daemon, then the identity source.
 */
export async function withIdentity<D extends Closable>(
  config: IdentityConfig,
  start: (identity: Identity) => Promise<D>,
): Promise<Closable> {
  const identity = await openIdentity(config);
  setup(identity.security);
  let daemon: D;
  try {
    daemon = await start(identity);
  } catch (e) {
    await identity.close();
    throw e;
  }
  return {
    close: closeOnce(async () => {
      try {
        await daemon.close();
      } finally {
        await identity.close();
      }
    }),
  };
}
