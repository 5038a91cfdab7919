// The kernel forwarder: turns each connection into kernel state (a veth pair between two pods on
// this node, or a VXLAN netdev into a pod towards another node), discovers and chooses the
// endpoint, and registers itself with the local nsmgr as an endpoint of service "forwarder".
import * as grpc from '@grpc/grpc-js';
import { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background, type Context } from '../sdk/core/context.js';
import { newNetworkServiceChain } from '../sdk/core/next.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { listen, shutdown } from '../sdk/grpc/listen.js';
import { addNetworkServiceServices } from '../sdk/grpc/networkservice-server.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { type Dataplane, type NetnsResolver, newDataplane, newNetnsResolver } from '../sdk/kernel/index.js';
import * as begin from '../sdk/networkservice/begin/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import * as discover from '../sdk/networkservice/discover/index.js';
import { FORWARDER_SERVICE_NAME } from '../sdk/networkservice/discoverforwarder/index.js';
import * as kernel from '../sdk/networkservice/mechanisms/kernel/index.js';
import * as vxlan from '../sdk/networkservice/mechanisms/vxlan/index.js';
import * as metadata from '../sdk/networkservice/metadata/index.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as roundrobin from '../sdk/networkservice/roundrobin/index.js';
import * as timeout from '../sdk/networkservice/timeout/index.js';
import * as updatepath from '../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../sdk/networkservice/updatetoken/index.js';
import * as xconnect from '../sdk/networkservice/xconnect/index.js';
import { keepRegistered } from '../sdk/registry/refresh/index.js';
import { closeOnce } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('forwarder');

export interface ForwarderOptions {
  name: string;
  listenOn: string;
  connectTo: string;
  tunnelIP: string;
  vxlanPort: number;
  vethMtu: number;
  labels: Record<string, string>;
  maxTokenLifetimeMs: number;
  /** How long links of an earlier run wait to be adopted before they are removed (default: the token lifetime). */
  reconcileGraceMs?: number;
  /** Kernel access; default: iproute2 in this process's namespaces. */
  dataplane?: Dataplane;
  /** Finds the namespaces KERNEL mechanisms name; default: the real /proc and /var/run/netns. */
  netnsResolver?: NetnsResolver;
}

export interface Forwarder {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  close(): Promise<void>;
}

export async function startForwarder(
  opts: ForwarderOptions,
  base: Context = background(),
): Promise<Forwarder> {
  const dataplane = opts.dataplane ?? newDataplane();
  const resolver = opts.netnsResolver ?? newNetnsResolver();
  const vxlanMtu = await vxlan.nodeTunnelMtu(dataplane, opts.tunnelIP);
  const pool = new ClientPool();
  const nsRegistry = newNsRegistryClient(opts.connectTo);
  const nseRegistry = newNseRegistryClient(opts.connectTo);
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

  const connections = new monitor.ConnectionMonitor();
  const relay = monitor.newRelay(connections, pool);
  const chain = newNetworkServiceChain(
    updatepath.newServer(opts.name), // this hop's path segment and connection id
    begin.newServer(), // one event at a time per connection
    updatetoken.newServer({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
    metadata.newServer(), // per-connection state for the elements below
    timeout.newServer(), // closes (and removes from the kernel) connections nobody refreshes
    monitor.newServer(connections), // MonitorConnections sees what this forwarder holds
    xconnect.newServer({ dataplane, mechanisms, owner, reconciler }), // checks the incoming mechanism first; builds the kernel side once the next hop answered
    discover.newServer(discover.newFinder(nsRegistry, nseRegistry)), // endpoints that may serve the request
    roundrobin.newServer(), // picks one, moves on to the next if it fails
    relay, // the endpoint or remote nsmgr dying shows here as DOWN, so clients heal
    connect.newServer(
      pool,
      xconnect.newClient({ mechanisms }), // KERNEL to a local endpoint, VXLAN to a remote nsmgr
    ),
  );

  const server = new grpc.Server();
  addNetworkServiceServices(server, chain, connections, base);
  const [url] = await listen(server, [opts.listenOn]);

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
    await shutdown(server);
    throw e;
  });
  log.info(
    { name: opts.name, url, tunnelIP: opts.tunnelIP, vxlanMtu, nsmgr: opts.connectTo },
    'forwarder serving',
  );
  return {
    name: opts.name,
    url,
    monitor: connections,
    close: closeOnce(async () => {
      await registration.close();
      await shutdown(server);
      relay.dispose();
      reconciler.close();
      pool.dispose();
      nsRegistry.close?.();
      nseRegistry.close?.();
    }),
  };
}
