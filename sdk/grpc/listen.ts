// Binds a grpc-js server to our URL forms: unix:///path (the directory is created and a stale
// socket file from a crashed run is removed) and tcp://host:port (port 0 picks a free one).
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { grpcTarget } from './status.js';

/** Returns the URLs actually bound, in the same order (tcp port 0 replaced by the real port). */
export async function listen(server: grpc.Server, urls: readonly string[]): Promise<string[]> {
  const bound: string[] = [];
  for (const url of urls) {
    if (url.startsWith('unix://')) {
      const path = url.slice('unix://'.length);
      mkdirSync(dirname(path), { recursive: true });
      if (existsSync(path)) rmSync(path, { force: true });
    }
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(grpcTarget(url), grpc.ServerCredentials.createInsecure(), (err, p) =>
        err ? reject(new Error(`failed to listen on ${url}: ${err.message}`)) : resolve(p),
      ),
    );
    bound.push(url.startsWith('unix://') ? url : url.replace(/:0$/, `:${port}`));
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
