import { background, type Context } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient } from '../../sdk/grpc/registry-client.js';
import { type Served, serve } from '../../sdk/grpc/server.js';
import { newIpRunner } from '../../sdk/kernel/index.js';
import { type JoinSpec, type L2Join, newJoiner } from '../../sdk/kernel/join.js';
import * as endpoint from '../../sdk/networkservice/chains/endpoint/index.js';
import * as clienturl from '../../sdk/networkservice/clienturl/index.js';
import * as connect from '../../sdk/networkservice/connect/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import * as monitor from '../../sdk/networkservice/monitor/index.js';
import * as passthrough from '../../sdk/networkservice/passthrough/index.js';
import { closeOnce, disposable } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';
import { defaultListenOn, registerEndpoint } from '../shared/endpoint.js';

const log = logger('passthrough');

export interface PassthroughOptions {
  name: string;
  connectTo: string;
  listenOn?: string;
  serviceNames: string[];
  labels: Record<string, string>;
  l2Join: L2Join;
  maxTokenLifetimeMs: number;
  /** Called when a connection's two interfaces are joined (the firewall's rules). */
  onJoined?: (spec: JoinSpec) => Promise<void>;
  /** What `kind` says in the "serving" log line (default passthrough). */
  kind?: string;
}

export interface Cnf {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startPassthrough(opts: PassthroughOptions, base: Context = background()): Promise<Cnf> {
  const pool = new ClientPool(); // the nsmgr: registry, connections onward, their monitor stream
  const runner = newIpRunner();
  const connections = new monitor.ConnectionMonitor();
  const relay = monitor.newRelay(connections, pool);
  const cnf = endpoint.newServer({
    name: opts.name,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    monitor: connections,
    additionalFunctionality: [
      kernel.newServer(), // the client's side of the connection: an interface in our namespace
      passthrough.newServer({
        labels: opts.labels,
        joiner: newJoiner(runner),
        l2: opts.l2Join,
        onJoined: opts.onJoined,
      }), // our labels onward; joins the two interfaces once both exist
      clienturl.newClient(opts.connectTo), // onward through our own nsmgr
      relay.server, // trouble further down shows here as DOWN, so the client heals
      connect.newServer(pool, kernel.newClient()), // our side of the connection onward: an interface here too
    ],
  });
  const nseRegistry = newNseRegistryClient(opts.connectTo, { pool });
  let server: Served | undefined;
  const closeRest = async () => {
    await relay.close();
    await pool.close();
    await runner.close();
  };
  try {
    server = await serve({
      listenOn: [opts.listenOn ?? defaultListenOn(opts.name, opts.connectTo)],
      base,
      register: (s, ctx) => cnf.register(s, ctx),
    });
    const [url] = server.urls;
    const registration = await registerEndpoint(nseRegistry, { ...opts, url });
    log.info(
      { name: opts.name, url, services: opts.serviceNames, labels: opts.labels },
      `${opts.kind ?? 'passthrough'} serving`,
    );
    const served = server;
    return disposable({
      name: opts.name,
      url,
      monitor: connections,
      close: closeOnce(async () => {
        await registration.close();
        await served.close();
        await closeRest();
      }),
    });
  } catch (e) {
    await server?.close();
    await closeRest();
    throw e;
  }
}
