// The L7 gateway: an endpoint (the icmp-responder's: point-to-point addresses for each client) whose
// namespace runs HAProxy on its HTTP port, and a client of the network services its HTTPRoutes send
// to (one mesh connection per backend service, requested through its own nsmgr, as the passthrough
// CNF does): so a network service can end in an L7 gateway, which is a CNF.
//
//   client ns            gateway ns (this process, HAProxy as its child)        backend ns
//   nsm-1 ── mesh ──▶  nsm interface :PORT  HAProxy ──▶ l7bN ── mesh ──▶  web-v1 :8080
//
// The routes are read before anything starts (a bad file stops the start, naming file, line and
// field) and again whenever the file changes: new backend services are connected first, then
// HAProxy reloads without dropping connections (haproxy.ts); a bad edit is logged and the routes in
// force stay. Close stops HAProxy (no process is left), then the connections, then the endpoint.
import { watch } from 'node:fs';
import { mkdir, readFile, rm, rmdir } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Connection } from '../../api/gen/networkservice/connection.js';
import { background, type Context } from '../../sdk/core/context.js';
import { getErrorMessage, invalidArgument, wrap } from '../../sdk/errors/index.js';
import { closeOnce, disposable } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';
import { type IcmpResponderOptions, startIcmpResponder } from '../icmp-responder/server.js';
import { type Nsc, startNsc } from '../nsc/client.js';
import { findHaproxy, type Haproxy, startHaproxy } from './haproxy.js';
import { renderConfig } from './haproxy-cfg.js';
import { backendServices, type HttpRoute, parseRoutes } from './routes.js';

const log = logger('l7-gateway');
/** Editors write a file in several steps: one reload after the last event. */
export const RELOAD_DEBOUNCE_MS = 100;

export interface L7GatewayOptions extends IcmpResponderOptions {
  routesFile: string;
  httpPort: number;
  runDir?: string;
  haproxy: string;
  requestTimeoutMs: number;
}

export interface L7Gateway {
  readonly name: string;
  readonly url: string;
  readonly haproxy: Haproxy;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function readRoutes(file: string): Promise<HttpRoute[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`failed to read routes file ${file}: ${getErrorMessage(e)}`);
  }
  return parseRoutes(text, file);
}

/** The far (endpoint) address of a connection, without its prefix length. */
function farAddress(conn: Connection): string | undefined {
  return conn.context?.ipContext?.dstIpAddrs[0]?.split('/')[0];
}

export async function startL7Gateway(
  opts: L7GatewayOptions,
  base: Context = background(),
): Promise<L7Gateway> {
  const binary = findHaproxy(opts.haproxy);
  let routes = await readRoutes(opts.routesFile);
  const runDir = opts.runDir ?? `/tmp/nsm-l7-${opts.name}`;
  await mkdir(runDir, { recursive: true });
  const statsSocket = join(runDir, 'haproxy.sock');
  const cfgFile = join(runDir, 'haproxy.cfg');
  // Only what we made: NSM_L7_RUN_DIR may be a directory that holds other things too.
  const removeFiles = async () => {
    for (const f of [cfgFile, `${cfgFile}.new`, statsSocket]) await rm(f, { force: true });
    await rmdir(runDir).catch(() => undefined);
  };
  const backends = new Map<string, { nsc: Nsc; address?: string }>();
  let ifindex = 0;
  // In parallel: each is a Request through the nsmgr, seconds apiece on a loaded node.
  const connectBackends = async () => {
    const missing = backendServices(routes).filter((svc) => !backends.has(svc));
    const results = await Promise.allSettled(
      missing.map(async (svc) => {
        const nsc = await startNsc({
          name: `${opts.name}-${svc}`,
          connectTo: opts.connectTo,
          networkServices: `kernel://${svc}/l7b${ifindex++}`,
          labels: opts.labels,
          requestTimeoutMs: opts.requestTimeoutMs,
          maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
        });
        const address = farAddress(nsc.connections[0]);
        backends.set(svc, { nsc, address });
        log.info({ service: svc, address }, 'backend connected');
      }),
    );
    const failed = results.findIndex((r) => r.status === 'rejected');
    if (failed >= 0) {
      const reason = (results[failed] as PromiseRejectedResult).reason;
      throw wrap(reason, `failed to connect to backend service ${missing[failed]}`);
    }
  };
  const render = () =>
    renderConfig(routes, {
      port: opts.httpPort,
      statsSocket,
      addresses: Object.fromEntries([...backends].map(([s, b]) => [s, b.address])),
    });
  const closeBackends = async () => {
    await Promise.allSettled([...backends.values()].map((b) => b.nsc.close()));
    backends.clear();
  };
  let haproxy: Haproxy | undefined;
  let nse: Awaited<ReturnType<typeof startIcmpResponder>> | undefined;
  try {
    await connectBackends();
    haproxy = await startHaproxy({ binary, cfgFile, statsSocket }, render());
    log.info({ file: opts.routesFile, routes: routes.length, port: opts.httpPort }, 'routes loaded');
    nse = await startIcmpResponder(opts, base);
  } catch (e) {
    await haproxy?.close();
    await closeBackends();
    await removeFiles();
    throw e;
  }
  const proxy = haproxy;
  const endpoint = nse;
  let timer: NodeJS.Timeout | undefined;
  let reloading = Promise.resolve();
  const reload = () => {
    reloading = reloading.then(async () => {
      try {
        routes = await readRoutes(opts.routesFile);
        await connectBackends();
        await proxy.reload(render());
        log.info({ file: opts.routesFile, routes: routes.length }, 'routes reloaded');
      } catch (e) {
        log.error(
          { file: opts.routesFile, error: getErrorMessage(e) },
          'routes not reloaded; the previous routes stay',
        );
      }
    });
  };
  // The directory, not the file: an editor's rename-over-the-old-file ends a watch on the file itself.
  const watcher = watch(dirname(opts.routesFile), (_event, name) => {
    if (name !== basename(opts.routesFile)) return;
    clearTimeout(timer);
    timer = setTimeout(reload, RELOAD_DEBOUNCE_MS);
  });
  log.info({ name: opts.name, url: endpoint.url, port: opts.httpPort }, 'l7-gateway serving');
  return disposable({
    name: endpoint.name,
    url: endpoint.url,
    haproxy: proxy,
    close: closeOnce(async () => {
      watcher.close();
      clearTimeout(timer);
      await reloading;
      await proxy.close();
      await endpoint.close();
      await closeBackends();
      await removeFiles();
    }),
  });
}
