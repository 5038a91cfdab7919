// Binds a grpc-js server to our URL forms: unix:///path (the directory is created, a stale socket
// file from a crashed run is removed, the new one is made 0660 and given the socket group) and
// tcp://host:port (port 0 picks a free one; mTLS or plaintext as transport-security.ts decides).
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as grpc from '@grpc/grpc-js';
import { grpcTarget } from './status.js';
import { defaultSecurity, serverCredentials, type TransportSecurity } from './transport-security.js';

/** Owner and group may connect; nobody else (upstream's sockets are the same). */
export const SOCKET_MODE = 0o660;

/** Returns the URLs actually bound, in the same order (tcp port 0 replaced by the real port). */
export async function listen(
  server: grpc.Server,
  urls: readonly string[],
  security: TransportSecurity = defaultSecurity(),
): Promise<string[]> {
  // Every URL is checked before any is bound: a refused one must not leave the others listening.
  const creds = urls.map((url) => serverCredentials(url, security));
  const bound: string[] = [];
  for (const [i, url] of urls.entries()) {
    const path = url.startsWith('unix://') ? url.slice('unix://'.length) : undefined;
    if (path) {
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) rmSync(path, { force: true });
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcTarget(url), creds[i], (err, p) =>
        err ? reject(new Error(`failed to listen on ${url}: ${err.message}`)) : resolve(p),
      ),
    );
    if (path) {
      chmodSync(path, SOCKET_MODE);
      if (security.socketGroup !== undefined) chownSync(path, -1, security.socketGroup);
    }
    bound.push(path ? url : url.replace(/:0$/, `:${port}`));
  }
  return bound;
}

/** Graceful stop with a deadline, then forced. */
export function shutdown(server: grpc.Server, graceMs = 2000): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
