// The icmp-responder endpoint: gives each client point-to-point addresses and asks the forwarder
// for a kernel interface in its own namespace, where the kernel itself answers pings and any
// traffic to its address.
import { dirname } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { State } from '../../api/gen/networkservice/connection.js';
import { type NetworkService, NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import { background, type Context, withTimeout } from '../../sdk/core/context.js';
import { newNetworkServiceChain } from '../../sdk/core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../sdk/core/types.js';
import { listen, shutdown } from '../../sdk/grpc/listen.js';
import { addNetworkServiceServices } from '../../sdk/grpc/networkservice-server.js';
import { newNseRegistryClient, newNsRegistryClient } from '../../sdk/grpc/registry-client.js';
import * as begin from '../../sdk/networkservice/begin/index.js';
import { newFinder } from '../../sdk/networkservice/discover/index.js';
import * as point2pointipam from '../../sdk/networkservice/ipam/point2pointipam/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import * as metadata from '../../sdk/networkservice/metadata/index.js';
import * as monitor from '../../sdk/networkservice/monitor/index.js';
import * as timeout from '../../sdk/networkservice/timeout/index.js';
import * as updatepath from '../../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../../sdk/networkservice/updatetoken/index.js';
import { keepRegistered } from '../../sdk/registry/refresh/index.js';
import { cappedDoubling, retry } from '../../sdk/tools/backoff/index.js';
import { closeOnce } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';

const log = logger('icmp-responder');

export interface IcmpResponderOptions {
  name: string;
  connectTo: string;
  listenOn?: string;
  serviceNames: string[];
  labels: Record<string, string>;
  cidrPrefix: string[];
  payload: 'ETHERNET' | 'IP';
  registerService: boolean;
  maxTokenLifetimeMs: number;
}

export interface Endpoint {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  close(): Promise<void>;
}

/** The tail: the endpoint accepts the connection. */
const accept: NetworkServiceServer = {
  async request(_ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.state = State.UP;
    return conn;
  },
  async close() {},
};

function defaultListenOn(opts: IcmpResponderOptions): string {
  const dir = opts.connectTo.startsWith('unix://') ? dirname(opts.connectTo.slice('unix://'.length)) : '/tmp';
  return `unix://${dir}/nse-${opts.name.replace(/[^A-Za-z0-9_.-]/g, '_')}.sock`;
}

export async function startIcmpResponder(
  opts: IcmpResponderOptions,
  base: Context = background(),
): Promise<Endpoint> {
  const connections = new monitor.ConnectionMonitor();
  const chain = newNetworkServiceChain(
    updatepath.newServer(opts.name), // this hop's path segment and connection id
    begin.newServer(), // one event at a time per connection
    updatetoken.newServer({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
    metadata.newServer(), // per-connection state
    timeout.newServer(), // frees addresses and interfaces of clients that stopped refreshing
    monitor.newServer(connections), // MonitorConnections for this endpoint
    point2pointipam.newServer(opts.cidrPrefix), // an address for each end, routes to the other
    kernel.newServer(), // the interface goes into this endpoint's namespace
    accept,
  );
  const server = new grpc.Server();
  addNetworkServiceServices(server, chain, connections, base);
  const [url] = await listen(server, [opts.listenOn ?? defaultListenOn(opts)]);

  const nsRegistry = newNsRegistryClient(opts.connectTo);
  const nseRegistry = newNseRegistryClient(opts.connectTo);
  try {
    if (opts.registerService) await registerServices(nsRegistry, opts);
    const registration = await keepRegistered(
      nseRegistry,
      NetworkServiceEndpoint.fromPartial({
        name: opts.name,
        networkServiceNames: opts.serviceNames,
        networkServiceLabels: Object.fromEntries(opts.serviceNames.map((s) => [s, { labels: opts.labels }])),
        url,
      }),
      { watch: true },
    );
    log.info(
      { name: opts.name, url, services: opts.serviceNames, cidr: opts.cidrPrefix },
      'endpoint serving',
    );
    return {
      name: opts.name,
      url,
      monitor: connections,
      close: closeOnce(async () => {
        await registration.close();
        await shutdown(server);
        nsRegistry.close?.();
        nseRegistry.close?.();
      }),
    };
  } catch (e) {
    await shutdown(server);
    nsRegistry.close?.();
    nseRegistry.close?.();
    throw e;
  }
}

/** Retries while the registry starts; the 30 s context of registerServices bounds the whole. */
const REGISTRY_BACKOFF = cappedDoubling({ initialMs: 100, maxMs: 1_000 });

/** Registers each service that the registry does not know yet (never overwrites its matches). */
async function registerServices(
  nsRegistry: ReturnType<typeof newNsRegistryClient>,
  opts: IcmpResponderOptions,
): Promise<void> {
  const { ctx, cancel } = withTimeout(background(), 30_000);
  try {
    const finder = newFinder(nsRegistry, newNseRegistryClient(opts.connectTo));
    for (const name of opts.serviceNames) {
      const existing = await retry(ctx, () => finder.networkService(ctx, name), {
        backoff: REGISTRY_BACKOFF,
      });
      if (existing) continue;
      const ns: NetworkService = { name, payload: opts.payload, matches: [], pathIds: [] };
      await retry(ctx, () => nsRegistry.register(ctx, ns), { backoff: REGISTRY_BACKOFF });
    }
  } finally {
    cancel();
  }
}
