// Binds a grpc-js server to our URL forms: unix:///path (the directory is created and a stale
// socket file from a crashed run is removed) and tcp://host:port (port 0 picks a free one).
//
// A unix socket is accepted by our own net.Server and handed to grpc-js through its connection
// injector: that is the only place the accepted socket is in reach, and we need it to learn the
// peer process (sdk/tools/unixpeer), which decides what a caller may do in insecure mode.
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { trackUnixConnection } from '../tools/unixpeer/index.js';
import { grpcTarget } from './status.js';

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
export async function listen(server: grpc.Server, urls: readonly string[]): Promise<string[]> {
  const bound: string[] = [];
  for (const url of urls) {
    if (url.startsWith('unix://')) {
      const path = url.slice('unix://'.length);
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) rmSync(path, { force: true });
      await listenUnix(server, url, path);
      bound.push(url);
      continue;
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcTarget(url), grpc.ServerCredentials.createInsecure(), (err, p) =>
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
