// The nsmgr: serves the NetworkService API to local clients (unix socket) and remote nsmgrs (tcp),
// proxies both registries to the central registry, and hands every connection to a local forwarder.
import { background, type Context } from '../sdk/core/context.js';
import { newRegistryChain } from '../sdk/core/next.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../sdk/grpc/registry-client.js';
import { addRegistryServices } from '../sdk/grpc/registry-server.js';
import { serve } from '../sdk/grpc/server.js';
import { type NetnsResolver, newNetnsResolver } from '../sdk/kernel/netns.js';
import * as authzpolicy from '../sdk/networkservice/authzpolicy/index.js';
import * as endpoint from '../sdk/networkservice/chains/endpoint/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import { newFinder } from '../sdk/networkservice/discover/index.js';
import * as discoverforwarder from '../sdk/networkservice/discoverforwarder/index.js';
import * as excludedprefixes from '../sdk/networkservice/excludedprefixes/index.js';
import * as monitor from '../sdk/networkservice/monitor/index.js';
import * as netnsowner from '../sdk/networkservice/netnsowner/index.js';
import { newNetSvcMonitor } from '../sdk/networkservice/netsvcmonitor/index.js';
import * as requestlabels from '../sdk/networkservice/requestlabels/index.js';
import * as localbypass from '../sdk/registry/localbypass/index.js';
import * as socketowner from '../sdk/registry/socketowner/index.js';
import * as unregisterdead from '../sdk/registry/unregisterdead/index.js';
import * as validate from '../sdk/registry/validate/index.js';
import { openAuthzPolicy } from '../sdk/tools/authzpolicy/config.js';
import { closeOnce, disposable } from '../sdk/tools/daemon.js';
import { logger } from '../sdk/tools/log.js';

const log = logger('nsmgr');

export interface NsmgrOptions {
  name: string;
  listenOn: string[];
  publicURL?: string;
  registryURL: string;
  maxTokenLifetimeMs: number;
  forwarderServiceName: string;
  /** The node this nsmgr runs on, added to requests as the nodeName label. */
  nodeName?: string;
  /** Skip the namespace ownership check (test harnesses that request for pods from outside). */
  allowForeignNetns?: boolean;
  /** Namespace files whose root processes see every connection (besides the nsmgr's and pid 1's). */
  operatorNetns?: string[];
  /** Resolves the namespaces clients name; default: the real /proc and /var/run/netns. */
  netnsResolver?: NetnsResolver;
  /** YAML file of prefixes every endpoint IPAM must avoid (see excludedprefixes); absent: none. */
  excludedPrefixesFile?: string;
  /** YAML authorization policy (sdk/tools/authzpolicy); absent: every request is allowed. */
  authzPolicyFile?: string;
}

export interface Nsmgr {
  readonly name: string;
  /** The URLs bound, in NSM_LISTEN_ON order. */
  readonly urls: string[];
  readonly publicURL: string;
  readonly monitor: monitor.ConnectionMonitor;
  /** Stops serving (cancelling calls in flight), then closes its streams and clients. */
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
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
  const pool = new ClientPool(); // one channel per peer: forwarders, remote nsmgrs, the registry
  const registryNs = newNsRegistryClient(opts.registryURL, { pool });
  const registryNse = newNseRegistryClient(opts.registryURL, { pool });

  // Registry chains: what local endpoints, forwarders and clients see when they use this nsmgr.
  const nsRegistry = newRegistryChain(
    registryNs, // the central registry holds network services
  );
  const local = localbypass.newServer(publicURL);
  const nseRegistry = newRegistryChain(
    socketowner.newNseServer(), // a local socket is registered (changed, unregistered) only by the process listening on it; inode:// becomes unix://
    validate.newNseServer(), // refuse malformed input here: localbypass hides the endpoint's own URL from the registry
    local, // local endpoints are registered under this nsmgr's URL
    registryNse, // the central registry
  );

  const policy = openAuthzPolicy(opts.authzPolicyFile);
  const excluded = opts.excludedPrefixesFile
    ? excludedprefixes.newFilePrefixSource({ path: opts.excludedPrefixesFile })
    : excludedprefixes.staticPrefixes([]);
  const connections = new monitor.ConnectionMonitor();
  const relay = monitor.newRelay(connections, pool, {
    // a reselect because a local endpoint died: out of the registry at once, so no reselect picks it
    onReselectRequested: unregisterdead.newDeadEndpointCheck({
      registry: nseRegistry,
      localURL: (name) => local.localURL(name),
    }),
  });
  const netsvc = newNetSvcMonitor({ ns: registryNs, nse: registryNse, monitor: connections });
  const nsmgr = endpoint.newServer({
    name: opts.name,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    monitor: connections,
    unixOwnership: 'process', // every pod reaches this socket: a connection is its creator's (netns and uid)
    operatorNetns: opts.operatorNetns,
    additionalFunctionality: [
      ...(opts.allowForeignNetns
        ? []
        : [netnsowner.newServer({ resolver: opts.netnsResolver ?? newNetnsResolver() })]), // a caller wires only its own namespace: before anything acts on the request
      ...(policy ? [authzpolicy.newServer({ source: policy })] : []), // the caller's SPIFFE ID may request this service (NSM_AUTHZ_POLICY_FILE)
      requestlabels.newServer({ nodeName: opts.nodeName }), // nodeName and clientName labels, for matches
      netsvc.server, // a service re-applied or endpoint labels changed: connections that no longer match reselect
      excludedprefixes.newServer({ source: excluded }), // endpoints' IPAM keeps out of the node's excluded prefixes
      discoverforwarder.newServer({
        finder: newFinder(nsRegistry, nseRegistry),
        nsmgrURL: publicURL,
        forwarderServiceName: opts.forwarderServiceName,
      }), // a local forwarder carries the connection
      relay.server, // trouble at the forwarder shows here as DOWN, so clients heal
      connect.newServer(pool), // on to the forwarder
    ],
  });

  const closeClients = async () => {
    excluded.close();
    policy?.close();
    await netsvc.close();
    await relay.close();
    await pool.close();
  };
  const server = await serve({
    listenOn: opts.listenOn,
    base,
    register: (s, ctx) => {
      nsmgr.register(s, ctx);
      addRegistryServices(s, { ns: nsRegistry, nse: nseRegistry }, ctx);
    },
  }).catch(async (e: unknown) => {
    await closeClients();
    throw e;
  });
  log.info({ name: opts.name, urls: server.urls, publicURL, registry: opts.registryURL }, 'nsmgr serving');
  return disposable({
    name: opts.name,
    urls: server.urls,
    publicURL,
    monitor: connections,
    close: closeOnce(async () => {
      await server.close(); // cancels in-flight calls first
      await closeClients();
    }),
  });
}
