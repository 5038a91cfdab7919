import { State } from '../../api/gen/networkservice/connection.js';
import type { NetworkService } from '../../api/gen/registry/registry.js';
import { background, type Context, withTimeout } from '../../sdk/core/context.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../sdk/core/types.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import {
  type NseRegistryClient,
  type NsRegistryClient,
  newNseRegistryClient,
  newNsRegistryClient,
} from '../../sdk/grpc/registry-client.js';
import { type Served, serve } from '../../sdk/grpc/server.js';
import * as endpoint from '../../sdk/networkservice/chains/endpoint/index.js';
import { newFinder } from '../../sdk/networkservice/discover/index.js';
import * as point2pointipam from '../../sdk/networkservice/ipam/point2pointipam/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import type * as monitor from '../../sdk/networkservice/monitor/index.js';
import * as policyroute from '../../sdk/networkservice/policyroute/index.js';
import { cappedDoubling, retry } from '../../sdk/tools/backoff/index.js';
import { closeOnce, disposable } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';
import { defaultListenOn, registerEndpoint } from '../shared/endpoint.js';

const log = logger('icmp-responder');

export interface IcmpResponderOptions {
  name: string;
  connectTo: string;
  listenOn?: string;
  serviceNames: string[];
  labels: Record<string, string>;
  cidrPrefix: string[];
  /** Upstream's policy-based-routing YAML (NSM_PBR_CONFIG_PATH); absent: no policies. */
  pbrConfigPath?: string;
  payload: 'ETHERNET' | 'IP';
  registerService: boolean;
  maxTokenLifetimeMs: number;
  /** Most connections one client may hold addresses for (default: half of the pool). */
  maxLeasesPerClient?: number;
}

export interface Endpoint {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  /** Unregisters, stops serving (cancelling calls in flight), then closes its clients. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
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

export async function startIcmpResponder(
  opts: IcmpResponderOptions,
  base: Context = background(),
): Promise<Endpoint> {
  const policies = opts.pbrConfigPath ? policyroute.loadPolicyFile(opts.pbrConfigPath) : undefined;
  const nse = endpoint.newServer({
    name: opts.name,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    additionalFunctionality: [
      point2pointipam.newServer(opts.cidrPrefix, { maxLeasesPerClient: opts.maxLeasesPerClient }), // an address for each end, routes to the other; the endpoint side is ours; a bounded share per client
      ...(policies ? [policyroute.newServer({ policies: () => policies })] : []), // policy routes for the client side
      kernel.newServer(), // the interface goes into this endpoint's namespace
      accept,
    ],
  });
  const pool = new ClientPool(); // the nsmgr, for both registries
  const nsRegistry = newNsRegistryClient(opts.connectTo, { pool });
  const nseRegistry = newNseRegistryClient(opts.connectTo, { pool });
  let server: Served | undefined;
  try {
    server = await serve({
      listenOn: [opts.listenOn ?? defaultListenOn(opts.name, opts.connectTo)],
      base,
      register: (s, ctx) => nse.register(s, ctx),
    });
    const [url] = server.urls;
    if (opts.registerService) await registerServices(nsRegistry, nseRegistry, opts);
    const registration = await registerEndpoint(nseRegistry, { ...opts, url });
    log.info(
      { name: opts.name, url, services: opts.serviceNames, cidr: opts.cidrPrefix },
      'endpoint serving',
    );
    const served = server;
    return disposable({
      name: opts.name,
      url,
      monitor: nse.monitor,
      close: closeOnce(async () => {
        await registration.close(); // unregister while the nsmgr is still reachable through the pool
        await served.close(); // cancels in-flight calls first
        await pool.close();
      }),
    });
  } catch (e) {
    await server?.close();
    await pool.close();
    throw e;
  }
}

/** Retries while the registry starts; the 30 s context of registerServices bounds the whole. */
const REGISTRY_BACKOFF = cappedDoubling({ initialMs: 100, maxMs: 1_000 });

/** Registers each service that the registry does not know yet (never overwrites its matches). */
export async function registerServices(
  nsRegistry: NsRegistryClient,
  nseRegistry: NseRegistryClient,
  opts: Pick<IcmpResponderOptions, 'serviceNames' | 'payload'>,
): Promise<void> {
  const { ctx, cancel } = withTimeout(background(), 30_000);
  try {
    const finder = newFinder(nsRegistry, nseRegistry);
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
