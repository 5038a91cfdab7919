// The kernel forwarder: turns each connection into kernel state (a veth pair between two pods on
// this node, or a VXLAN netdev into a pod towards another node), discovers and chooses the
// endpoint, and registers itself with the local nsmgr as an endpoint of service "forwarder".
import { NetworkServiceEndpoint } from '../api/gen/registry/registry.js';
import { background, type Context } from '../sdk/core/context.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { serve } from '../sdk/grpc/server.js';
import { type Dataplane, newDataplane, newIpRunner } from '../sdk/kernel/index.js';
import * as endpoint from '../sdk/networkservice/chains/endpoint/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import * as discover from '../sdk/networkservice/discover/index.js';
import { FORWARDER_SERVICE_NAME } from '../sdk/networkservice/discoverforwarder/index.js';
import { VniAllocator } from '../sdk/networkservice/mechanisms/vxlan/vni.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as roundrobin from '../sdk/networkservice/roundrobin/index.js';
import * as xconnect from '../sdk/networkservice/xconnect/index.js';
import { ownerTag, Reconciler } from '../sdk/networkservice/xconnect/reconcile.js';
import { keepRegistered } from '../sdk/registry/refresh/index.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('forwarder');

/** Bytes VXLAN adds on an IPv4 / IPv6 underlay (outer IP + UDP + VXLAN + inner Ethernet). */
export const VXLAN_OVERHEAD_V4 = 50;
export const VXLAN_OVERHEAD_V6 = 70;

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
  dataplane?: Dataplane;
}

export interface Forwarder {
  readonly name: string;
  readonly url: string;
  readonly monitor: monitor.ConnectionMonitor;
  /** Unregisters, stops serving (cancelling calls in flight), then closes its streams and clients. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

/** The MTU of the interface holding the tunnel address, minus the VXLAN overhead. */
async function vxlanMtuFor(dataplane: Dataplane, tunnelIP: string): Promise<number> {
  const underlay = await dataplane.findAddressOwner(null, tunnelIP);
  if (!underlay) {
    throw new Error(
      `NSM_TUNNEL_IP: ${tunnelIP} is not an address of any interface in the forwarder's namespace`,
    );
  }
  return underlay.mtu - (tunnelIP.includes(':') ? VXLAN_OVERHEAD_V6 : VXLAN_OVERHEAD_V4);
}

export async function startForwarder(
  opts: ForwarderOptions,
  base: Context = background(),
): Promise<Forwarder> {
  const runner = newIpRunner();
  const dataplane = opts.dataplane ?? newDataplane(runner);
  const vxlanMtu = await vxlanMtuFor(dataplane, opts.tunnelIP);
  const pool = new ClientPool(); // one channel per peer: endpoints, remote nsmgrs, the local nsmgr
  const nsRegistry = newNsRegistryClient(opts.connectTo, { pool });
  const nseRegistry = newNseRegistryClient(opts.connectTo, { pool });
  const vni = new VniAllocator();
  // Links this forwarder made before a restart: adopted by their connections, or removed after the grace period.
  const reconciler = new Reconciler(
    runner,
    ownerTag(opts.name, opts.tunnelIP),
    vni,
    (netns, name) => dataplane.deleteLink(netns, name),
    opts.reconcileGraceMs ?? opts.maxTokenLifetimeMs,
  );

  const connections = new monitor.ConnectionMonitor();
  const relay = monitor.newRelay(connections, pool);
  const forwarder = endpoint.newServer({
    name: opts.name,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    monitor: connections,
    additionalFunctionality: [
      xconnect.newServer({
        dataplane,
        vni,
        name: opts.name,
        tunnelIP: opts.tunnelIP,
        vxlanPort: opts.vxlanPort,
        vethMtu: opts.vethMtu,
        vxlanMtu,
        reconciler,
      }), // checks the incoming mechanism first; builds the kernel side once the next hop answered
      discover.newServer(discover.newFinder(nsRegistry, nseRegistry)), // endpoints that may serve the request
      roundrobin.newServer(), // picks one, moves on to the next if it fails
      relay.server, // the endpoint or remote nsmgr dying shows here as DOWN, so clients heal
      connect.newServer(
        pool,
        xconnect.newClient({ tunnelIP: opts.tunnelIP, vxlanPort: opts.vxlanPort }), // KERNEL to a local endpoint, VXLAN to a remote nsmgr
      ),
    ],
  });

  const closeRest = async () => {
    await relay.close();
    await reconciler.close();
    await pool.close();
  };
  const server = await serve({
    listenOn: [opts.listenOn],
    base,
    register: (s, ctx) => forwarder.register(s, ctx),
  }).catch(async (e: unknown) => {
    await closeRest();
    throw e;
  });
  const [url] = server.urls;

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
      await server.close(); // cancels in-flight calls first
      await closeRest();
    }),
  });
}
