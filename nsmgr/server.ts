// The nsmgr: serves the NetworkService API to local clients (unix socket) and remote nsmgrs (tcp),
// proxies both registries to the central registry, and hands every connection to a local forwarder.
import * as grpc from '@grpc/grpc-js';
import { background, type Context } from '../sdk/core/context.js';
import { newNetworkServiceChain, newRegistryChain } from '../sdk/core/next.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { listen, shutdown } from '../sdk/grpc/listen.js';
import { addNetworkServiceServices } from '../sdk/grpc/networkservice-server.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { addRegistryServices } from '../sdk/grpc/registry-server.js';
import * as begin from '../sdk/networkservice/begin/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import { newFinder } from '../sdk/networkservice/discover/index.js';
import * as discoverforwarder from '../sdk/networkservice/discoverforwarder/index.js';
import * as metadata from '../sdk/networkservice/metadata/index.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as timeout from '../sdk/networkservice/timeout/index.js';
import * as updatepath from '../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../sdk/networkservice/updatetoken/index.js';
import * as localbypass from '../sdk/registry/localbypass/index.js';
import { closeOnce } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('nsmgr');

export interface NsmgrOptions {
  name: string;
  listenOn: string[];
  publicURL?: string;
  registryURL: string;
  maxTokenLifetimeMs: number;
  forwarderServiceName: string;
}

export interface Nsmgr {
  readonly name: string;
  /** The URLs bound, in NSM_LISTEN_ON order. */
  readonly urls: string[];
  readonly publicURL: string;
  readonly monitor: monitor.ConnectionMonitor;
  close(): Promise<void>;
}

function publicURLOf(opts: NsmgrOptions): string {
  if (opts.publicURL) return opts.publicURL;
  const tcp = opts.listenOn.find((u) => u.startsWith('tcp://'));
  if (!tcp) throw new Error('NSM_PUBLIC_URL: must be set when NSM_LISTEN_ON has no tcp URL');
  if (/^tcp:\/\/(0\.0\.0\.0|\[::\]|):/.test(tcp)) {
    throw new Error(`NSM_PUBLIC_URL: must be set when the tcp URL in NSM_LISTEN_ON is a wildcard (${tcp})`);
  }
  return tcp;
}

export async function startNsmgr(opts: NsmgrOptions, base: Context = background()): Promise<Nsmgr> {
  const publicURL = publicURLOf(opts);
  const pool = new ClientPool();
  const registryNs = newNsRegistryClient(opts.registryURL);
  const registryNse = newNseRegistryClient(opts.registryURL);

  // Registry chains: what local endpoints, forwarders and clients see when they use this nsmgr.
  const nsRegistry = newRegistryChain(
    registryNs, // the central registry holds network services
  );
  const nseRegistry = newRegistryChain(
    localbypass.newServer(publicURL), // local endpoints are registered under this nsmgr's URL
    registryNse, // the central registry
  );

  const connections = new monitor.ConnectionMonitor();
  const relay = monitor.newRelay(connections, pool);
  const chain = newNetworkServiceChain(
    updatepath.newServer(opts.name), // this hop's path segment and connection id
    begin.newServer(), // one event at a time per connection; mid-chain events re-enter here
    updatetoken.newServer({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
    metadata.newServer(), // per-connection state for the elements below
    timeout.newServer(), // closes connections whose client stopped refreshing
    monitor.newServer(connections), // MonitorConnections sees what this nsmgr holds
    discoverforwarder.newServer({
      finder: newFinder(nsRegistry, nseRegistry),
      nsmgrURL: publicURL,
      forwarderServiceName: opts.forwarderServiceName,
    }), // a local forwarder carries the connection
    relay, // trouble at the forwarder shows here as DOWN, so clients heal
    connect.newServer(pool), // on to the forwarder
  );

  const server = new grpc.Server({ 'grpc.max_receive_message_length': 4 * 1024 * 1024 });
  addNetworkServiceServices(server, chain, connections, base);
  addRegistryServices(server, { ns: nsRegistry, nse: nseRegistry }, base);
  const urls = await listen(server, opts.listenOn);
  log.info({ name: opts.name, urls, publicURL, registry: opts.registryURL }, 'nsmgr serving');
  return {
    name: opts.name,
    urls,
    publicURL,
    monitor: connections,
    close: closeOnce(async () => {
      await shutdown(server);
      relay.dispose();
      pool.dispose();
      registryNs.close?.();
      registryNse.close?.();
    }),
  };
}
