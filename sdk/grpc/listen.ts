// Binds a grpc-js server to our URL forms: unix:///path (the directory is created, a stale socket
// file from a crashed run is removed, the new one is made 0660 and given the socket group) and
// tcp://host:port (port 0 picks a free one; mTLS or plaintext as transport-security.ts decides).
//
// A unix socket is accepted by our own net.Server and handed to grpc-js through its connection
// injector: that is the only place the accepted socket is in reach, and we need it to learn the
// peer process (sdk/tools/unixpeer), which decides what a caller may do in insecure mode.
import { chmodSync, chownSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { trackUnixConnection } from '../tools/unixpeer/index.js';
import { grpcTarget } from './status.js';
import { defaultSecurity, serverCredentials, type TransportSecurity } from './transport-security.js';

/** Owner and group may connect; nobody else (upstream's sockets are the same). */
export const SOCKET_MODE = 0o660;

/** The unix listeners we own for each grpc server (closed by `shutdown`). */
const unixListeners = new WeakMap<grpc.Server, NetServer[]>();

function listenUnix(server: grpc.Server, url: string, path: string): Promise<void> {
  const injector = server.createConnectionInjector(grpc.ServerCredentials.createInsecure());
  const net = createServer((socket) => {
    trackUnixConnection(socket, path);
    injector.injectConnection(socket);
  });
  return new Promise<void>((resolve, reject) => {
    net.once('error', (err) => reject(new Error(`failed to listen on ${url}: ${err.message}`)));
    net.listen(path, () => {
      const list = unixListeners.get(server) ?? [];
      list.push(net);
      unixListeners.set(server, list);
      resolve();
    });
  });
}

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
      await listenUnix(server, url, path);
      chmodSync(path, SOCKET_MODE);
      if (security.socketGroup !== undefined) chownSync(path, -1, security.socketGroup);
      bound.push(url);
      continue;
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcTarget(url), creds[i], (err, p) =>
        err ? reject(new Error(`failed to listen on ${url}: ${err.message}`)) : resolve(p),
      ),
    );
    bound.push(url.replace(/:0$/, `:${port}`));
  }
  return bound;
}

/** Stops accepting on the unix sockets of `server` (shutdown does it; so must a failed start). */
export function closeUnixListeners(server: grpc.Server): void {
  for (const net of unixListeners.get(server) ?? []) net.close(); // removes the socket file too
  unixListeners.delete(server);
}

/** Graceful stop with a deadline, then forced. */
export function shutdown(server: grpc.Server, graceMs = 2000): Promise<void> {
  closeUnixListeners(server); // no new connections; the open ones are grpc-js's to drain
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
