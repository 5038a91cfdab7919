// A vL3 endpoint replica: one flat L3 network (e.g. my-vl3 on 172.16.0.0/16) built from replicas that
// split the prefix. At start it takes a slice from vl3-ipam (prefix-client.ts), then serves members
// (an address in the slice, a route to the whole prefix via the replica, a DNS name), connects to the
// other replicas through the mesh (peers.ts) and answers DNS for the network (dns.ts). The kernel
// routes between members of this replica (ip_forward on in its namespace) and, over the peer links,
// to the other replicas' slices:
//
//   member ns                  replica A ns                         replica B ns            member ns
//   nsm-1 172.16.0.2 ═veth═ [172.16.0.1] ─ 172.16.1.0/24 via B ═peer link═ [172.16.1.1] ═ 172.16.1.2
//   172.16.0.0/16 via A        172.16.0.2/32 dev …                   172.16.0.0/24 via A
import { writeFileSync } from 'node:fs';
import { State } from '../../api/gen/networkservice/connection.js';
import { background, type Context } from '../../sdk/core/context.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../sdk/core/types.js';
import { getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import { newNseRegistryClient, newNsRegistryClient } from '../../sdk/grpc/registry-client.js';
import { type Served, serve } from '../../sdk/grpc/server.js';
import * as client from '../../sdk/networkservice/chains/client/index.js';
import * as endpoint from '../../sdk/networkservice/chains/endpoint/index.js';
import { newFinder } from '../../sdk/networkservice/discover/index.js';
import * as dnscontext from '../../sdk/networkservice/dnscontext/index.js';
import * as vl3ipam from '../../sdk/networkservice/ipam/vl3ipam/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import type * as monitor from '../../sdk/networkservice/monitor/index.js';
import { closeOnce, disposable } from '../../sdk/tools/daemon.js';
import { logger } from '../../sdk/tools/log.js';
import { registerServices } from '../icmp-responder/server.js';
import { defaultListenOn, registerEndpoint } from '../shared/endpoint.js';
import { type DnsServer, MemberRecords, recordNames, startDnsServer } from './dns.js';
import { type Peers, startPeers } from './peers.js';
import { newPrefixClient } from './prefix-client.js';
import { memberAddressesInKernel } from './recover.js';
import { loadState, stateSaver } from './state.js';

const log = logger('vl3');
/** How long the first slice may take (vl3-ipam starting at the same time). */
const FIRST_SLICE_TIMEOUT_MS = 30_000;

export interface Vl3Options {
  name: string;
  connectTo: string;
  listenOn?: string;
  serviceName: string;
  labels: Record<string, string>;
  prefixServerURL: string;
  prefix: string;
  dnsPort: number;
  peerPollMs: number;
  requestTimeoutMs: number;
  maxTokenLifetimeMs: number;
  /** The member table on disk (state.ts); absent: a restart keeps only what the kernel shows. */
  stateFile?: string;
}

export interface Vl3Endpoint {
  readonly name: string;
  readonly url: string;
  readonly slice: string;
  readonly monitor: monitor.ConnectionMonitor;
  readonly peers: Peers;
  close(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

const accept: NetworkServiceServer = {
  async request(_ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    req.connection!.state = State.UP;
    return req.connection!;
  },
  async close() {},
};

function enableForwarding(): void {
  try {
    writeFileSync('/proc/sys/net/ipv4/ip_forward', '1');
  } catch (e) {
    log.warn(
      { err: getErrorMessage(e) },
      'cannot enable IPv4 forwarding: members of this replica cannot reach each other',
    );
  }
}

export async function startVl3Endpoint(opts: Vl3Options, base: Context = background()): Promise<Vl3Endpoint> {
  const prefixes = newPrefixClient({ url: opts.prefixServerURL, owner: opts.name });
  let saver: ReturnType<typeof stateSaver> | undefined;
  const addresses = new vl3ipam.SliceAddresses(Date.now, () => saver?.schedule());
  const pool = new ClientPool();
  let server: Served | undefined;
  let dns: DnsServer | undefined;
  let peers: Peers | undefined;
  try {
    const slice = await prefixes.first(FIRST_SLICE_TIMEOUT_MS);
    addresses.setSlice(slice);
    const own = vl3ipam.replicaAddress(slice);
    // Members of an earlier run of this replica keep their addresses: reserved until they come back.
    if (opts.stateFile) {
      const saved = loadState(opts.stateFile);
      if (saved?.slice === slice) addresses.restore(saved.members, Date.now() + opts.maxTokenLifetimeMs);
      const file = opts.stateFile;
      saver = stateSaver(file, () => ({ slice, members: addresses.snapshot() }));
      saver.flush();
    }
    const inUse = (await memberAddressesInKernel(slice).catch(() => [])).filter((a) => a !== own);
    addresses.reserve(inUse, Date.now() + opts.maxTokenLifetimeMs);
    if (inUse.length) log.info({ count: inUse.length }, 'member addresses of an earlier run reserved');
    enableForwarding();
    const records = new MemberRecords(opts.serviceName);
    const nse = endpoint.newServer({
      name: opts.name,
      maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
      additionalFunctionality: [
        vl3ipam.newServer({ network: opts.prefix, addresses }), // an address in our slice, a route to the whole prefix
        dnscontext.newServer({
          configs: () =>
            opts.dnsPort ? [{ dnsServerIps: [own.split('/')[0]], searchDomains: [opts.serviceName] }] : [],
        }), // members ask us for names of the network
        recordNames(records), // the member's dnsName, once its connection is up
        kernel.newServer(), // the interface goes into this replica's namespace
        accept,
      ],
    });
    const nsRegistry = newNsRegistryClient(opts.connectTo, { pool });
    const nseRegistry = newNseRegistryClient(opts.connectTo, { pool });
    server = await serve({
      listenOn: [opts.listenOn ?? defaultListenOn(opts.name, opts.connectTo)],
      base,
      register: (s, ctx) => nse.register(s, ctx),
    });
    const [url] = server.urls;
    await registerServices(nsRegistry, nseRegistry, { serviceNames: [opts.serviceName], payload: 'IP' });
    const peerChain = client.newClient({
      name: opts.name,
      connectTo: opts.connectTo,
      pool,
      maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
      additionalFunctionality: [kernel.newClient()], // our namespace gets the peer link's end
    });
    const started = startPeers({
      name: opts.name,
      service: opts.serviceName,
      slice,
      address: own,
      finder: newFinder(nsRegistry, nseRegistry),
      chain: peerChain,
      pollMs: opts.peerPollMs,
      requestTimeoutMs: opts.requestTimeoutMs,
    });
    peers = started;
    if (opts.dnsPort) {
      dns = await startDnsServer({
        records,
        port: opts.dnsPort,
        // The other replicas: the ones we asked (their address answered on our link) and the ones that asked us.
        peers: () =>
          [
            ...[...started.connected().values()].flatMap((c) => c.context?.ipContext?.dstIpAddrs ?? []),
            ...records.incomingPeers(),
          ].map((a) => a.split('/')[0]),
      });
    }
    const registration = await registerEndpoint(nseRegistry, {
      name: opts.name,
      serviceNames: [opts.serviceName],
      labels: opts.labels,
      url,
    });
    log.info(
      { name: opts.name, url, slice, address: own, service: opts.serviceName },
      'vL3 endpoint serving',
    );
    const served = server;
    const dnsServer = dns;
    return disposable({
      name: opts.name,
      url,
      slice,
      monitor: nse.monitor,
      peers: started,
      close: closeOnce(async () => {
        await started.close();
        await registration.close();
        await served.close();
        await dnsServer?.close();
        saver?.flush();
        prefixes.close();
        await pool.close();
      }),
    });
  } catch (e) {
    await peers?.close();
    await dns?.close();
    await server?.close();
    prefixes.close();
    await pool.close();
    throw e;
  }
}
