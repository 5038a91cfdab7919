// The kernel forwarder: turns each connection into kernel state (a veth pair between two pods on
// this node, or a VXLAN netdev into a pod towards another node), discovers and chooses the
// endpoint, and registers itself with the local nsmgr as an endpoint of service "forwarder".
import { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background, type Context } from '../sdk/core/context.js';
import type { Connection } from '../sdk/core/types.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { serve } from '../sdk/grpc/server.js';
import {
  type Dataplane,
  type NetnsResolver,
  newDataplane,
  newIpRunner,
  newNetnsResolver,
} from '../sdk/kernel/index.js';
import * as allowpeer from '../sdk/networkservice/allowpeer/index.js';
import * as endpoint from '../sdk/networkservice/chains/endpoint/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import * as discover from '../sdk/networkservice/discover/index.js';
import { FORWARDER_SERVICE_NAME } from '../sdk/networkservice/discoverforwarder/index.js';
import * as kernel from '../sdk/networkservice/mechanisms/kernel/index.js';
import * as vxlan from '../sdk/networkservice/mechanisms/vxlan/index.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as roundrobin from '../sdk/networkservice/roundrobin/index.js';
import * as stats from '../sdk/networkservice/stats/index.js';
import * as xconnect from '../sdk/networkservice/xconnect/index.js';
import { keepRegistered } from '../sdk/registry/refresh/index.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('forwarder');
/**
 * How long the shells that start pods' `ip` runs stay without work (the runner's default is 2 s):
 * with pods arriving a few seconds apart, each request restarted one, a spawn on the event loop and
 * a shell start before its batch could run.
 */
const SHELL_IDLE_MS = 60_000;

export interface ForwarderOptions {
  name: string;
  listenOn: string;
  connectTo: string;
  tunnelIP: string;
  vxlanPort: number;
  vethMtu: number;
  /** Kernel changes over rtnetlink where they can be (default true); false: iproute2 only. */
  kernelNetlink?: boolean;
  labels: Record<string, string>;
  maxTokenLifetimeMs: number;
  /** How long links of an earlier run wait to be adopted before they are removed (default: the token lifetime). */
  reconcileGraceMs?: number;
  /** Kernel access; default: iproute2 in this process's namespaces. */
  dataplane?: Dataplane;
  /** Finds the namespaces KERNEL mechanisms name; default: the real /proc and /var/run/netns. */
  netnsResolver?: NetnsResolver;
  /**
   * Also serve this process's callers of our URL without gRPC (the nodeagent: the nsmgr in the
   * same process); other processes still reach us over the socket.
   */
  inProcess?: boolean;
}

export interface Forwarder {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  /** Unregisters, stops serving (cancelling calls in flight), then closes its streams and clients. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export async function startForwarder(
  opts: ForwarderOptions,
  base: Context = background(),
): Promise<Forwarder> {
  const dataplane =
    opts.dataplane ??
    newDataplane({ runner: newIpRunner({ shellIdleMs: SHELL_IDLE_MS, netlink: opts.kernelNetlink }) });
  const resolver = opts.netnsResolver ?? newNetnsResolver();
  const vxlanMtu = await vxlan.nodeTunnelMtu(dataplane, opts.tunnelIP);
  const pool = new ClientPool(); // one channel per peer: endpoints, remote nsmgrs, the local nsmgr
  const nsRegistry = newNsRegistryClient(opts.connectTo, { pool });
  const nseRegistry = newNseRegistryClient(opts.connectTo, { pool });
  const vni = new vxlan.VniAllocator();
  const owner = xconnect.ownerTag(opts.name, opts.tunnelIP);
  // Links this forwarder made before a restart: adopted by their connections, or removed after the grace period.
  const reconciler = xconnect.newReconciler({
    dataplane,
    resolver,
    owner,
    vni,
    graceMs: opts.reconcileGraceMs ?? opts.maxTokenLifetimeMs,
  });
  // What this forwarder can put on either side of a connection; xconnect asks them in this order.
  const mechanisms = [
    kernel.newForwarderMechanism({ resolver, vethMtu: opts.vethMtu, dataplane }), // pods on this node: a veth pair
    vxlan.newForwarderMechanism({ tunnelIP: opts.tunnelIP, port: opts.vxlanPort, mtu: vxlanMtu, vni }), // other nodes
  ];

  if (!opts.connectTo.startsWith('unix://')) {
    log.warn(
      { nsmgr: opts.connectTo },
      'the nsmgr is not on a unix socket: any caller of this forwarder is served (its namespace checks can be skipped)',
    );
  }
  const connections = new monitor.ConnectionMonitor();
  const finder = discover.newFinder(nsRegistry, nseRegistry);
  // Our next hops are endpoints (local ones on unix sockets): one that was killed is reselected at
  // once, when another endpoint serves the service (else the client repairs and waits for it).
  const anotherEndpoint = async (conn: Connection, url: string) =>
    (
      await finder.endpoints(background(), { networkServiceNames: [conn.networkService] }, { fresh: true })
    ).some((e) => e.url !== url && e.name !== conn.networkServiceEndpointName);
  const relay = monitor.newRelay(connections, pool, {
    endpointGone: monitor.unixListenerGone,
    canReselect: anotherEndpoint,
  });
  const forwarder = endpoint.newServer({
    name: opts.name,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    monitor: connections,
    additionalFunctionality: [
      ...(opts.connectTo.startsWith('unix://')
        ? [allowpeer.newServer({ listensOn: opts.connectTo.slice('unix://'.length) })]
        : []), // only the local nsmgr, which checked the namespaces: a client dialling this socket would skip that
      stats.newServer({ dataplane }), // interface counters on our path segment (metrics on only); after xconnect made the links
      xconnect.newServer({ dataplane, mechanisms, owner, reconciler }), // checks the incoming mechanism first; builds the kernel side once the next hop answered
      discover.newServer(finder), // endpoints that may serve the request
      roundrobin.newServer({ anotherEndpoint }), // picks one, moves on to the next if it fails
      relay.server, // the endpoint or remote nsmgr dying shows here as DOWN, so clients heal
      connect.newServer(
        pool,
        xconnect.newClient({ mechanisms }), // KERNEL to a local endpoint, VXLAN to a remote nsmgr
      ),
    ],
  });

  const closeRest = async () => {
    await relay.close();
    await reconciler.close();
    await pool.close();
  };
  let served = base;
  const server = await serve({
    listenOn: [opts.listenOn],
    base,
    register: (s, ctx) => {
      forwarder.register(s, ctx);
      served = ctx;
    },
  }).catch(async (e: unknown) => {
    await closeRest();
    throw e;
  });
  const [url] = server.urls;
  const stopInProcess = opts.inProcess ? forwarder.serveInProcess(url, served) : () => {};

  const registration = await keepRegistered(
    nseRegistry,
    NetworkServiceEndpoint.fromPartial({
      name: opts.name,
      networkServiceNames: [FORWARDER_SERVICE_NAME],
      networkServiceLabels: { [FORWARDER_SERVICE_NAME]: { labels: opts.labels } },
      url,
    }),
    { watch: true },
  ).catch(async (e: unknown) => {
    stopInProcess();
    await server.close();
    await closeRest();
    throw e;
  });
  log.info(
    { name: opts.name, url, tunnelIP: opts.tunnelIP, vxlanMtu, nsmgr: opts.connectTo },
    'forwarder serving',
  );
  return disposable({
    name: opts.name,
    url,
    monitor: connections,
    close: closeOnce(async () => {
      await registration.close(); // unregister while the nsmgr is still reachable through the pool
      stopInProcess();
      await server.close(); // cancels in-flight calls first (in-process ones too)
      await closeRest();
    }),
  });
}
