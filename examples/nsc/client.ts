// The network service client (NSC): requests one connection per NSURL from the local nsmgr,
// holds them, and closes them on stop. It runs inside the workload's network namespace and names
// that namespace by inode, so the forwarder puts the interface there.
import { status } from '@grpc/grpc-js';
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, type Context, withTimeout } from '../../sdk/core/context.js';
import type { NetworkServiceClient, NetworkServiceRequest } from '../../sdk/core/types.js';
import { getErrorCode, getErrorMessage } from '../../sdk/errors/index.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import * as client from '../../sdk/networkservice/chains/client/index.js';
import * as clientinfo from '../../sdk/networkservice/clientinfo/index.js';
import * as dnscontext from '../../sdk/networkservice/dnscontext/index.js';
import * as excludedprefixes from '../../sdk/networkservice/excludedprefixes/index.js';
import * as heal from '../../sdk/networkservice/heal/index.js';
import * as l7bypass from '../../sdk/networkservice/l7bypass/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import type { AwarenessGroup } from '../../sdk/tools/awarenessgroups/index.js';
import { sleep } from '../../sdk/tools/backoff/index.js';
import { logger } from '../../sdk/tools/log.js';
import { parseNsurlList } from '../../sdk/tools/nsurl/index.js';

const log = logger('nsc');
/** Upstream's client (sdk retry) tries a failed Request again every 200 ms within its timeout. */
export const RETRY_INTERVAL_MS = 200;
/** Failures that the same request meets again however often it is sent: not retried. */
const FINAL_CODES = new Set<number>([
  status.INVALID_ARGUMENT,
  status.PERMISSION_DENIED,
  status.UNAUTHENTICATED,
]);

/**
 * Sends the first Request of a connection, and again every RETRY_INTERVAL_MS while it fails, until
 * `ctx` ends (the request timeout): the mesh may be restarting (registry, nsmgr) while the client
 * starts, as upstream's client allows for. Each attempt gets what is left of `ctx`; the last
 * error is thrown when time runs out. Bad requests fail at once.
 */
export async function requestWithRetry(
  ctx: Context,
  chain: NetworkServiceClient,
  req: NetworkServiceRequest,
): Promise<Connection> {
  for (let attempt = 1; ; attempt++) {
    try {
      // Each attempt gets all the time left: on a loaded node one remote request may take seconds,
      // and cutting it short only wastes that work (a fault-tier run under load showed it).
      return await chain.request(ctx, structuredClone(req));
    } catch (e) {
      if (ctx.signal.aborted || FINAL_CODES.has(getErrorCode(e))) throw e;
      log.info(
        { id: req.connection?.id, attempt, error: getErrorMessage(e) },
        'request failed; trying again',
      );
      try {
        await sleep(ctx, RETRY_INTERVAL_MS);
      } catch {
        throw e; // out of time: the request's own error says why
      }
    }
  }
}

export interface NscOptions {
  name: string;
  connectTo: string;
  networkServices: string;
  labels: Record<string, string>;
  requestTimeoutMs: number;
  maxTokenLifetimeMs: number;
  livenessCheck?: boolean;
  livenessIntervalMs?: number;
  livenessTimeoutMs?: number;
  livenessGraceMs?: number;
  /** Apply dns_context through this resolv.conf (see dnscontext.newClient); absent: not applied. */
  dnsResolvConf?: string;
  /** When the connections get a rule that keeps them out of an L7 sidecar's REDIRECT (default auto). */
  l7Bypass?: l7bypass.BypassPolicy;
  /** The iptables binary for those rules (default iptables). */
  l7Iptables?: string;
  /** NSM_AWARENESS_GROUPS: connections of one group may overlap each other (excludedprefixes). */
  awarenessGroups?: readonly AwarenessGroup[];
  /**
   * The excludedprefixes element to use instead of a new one: a caller that runs several nscs for one
   * namespace (the hot-plug client) shares one, so all their connections are kept apart.
   */
  excludedPrefixes?: NetworkServiceClient;
}

export interface Nsc {
  readonly connections: Connection[];
  close(): Promise<void>;
}

export async function startNsc(opts: NscOptions): Promise<Nsc> {
  const urls = parseNsurlList(opts.networkServices);
  const pool = new ClientPool();
  const chain = client.newClient({
    name: opts.name,
    connectTo: opts.connectTo, // the local nsmgr
    pool,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    heal: {
      livenessCheck: opts.livenessCheck === false ? undefined : heal.kernelLivenessCheck,
      livenessIntervalMs: opts.livenessIntervalMs,
      livenessTimeoutMs: opts.livenessTimeoutMs,
      livenessGraceMs: opts.livenessGraceMs,
    }, // watches the connection (monitor stream, data plane) and repairs or reselects
    additionalFunctionality: [
      clientinfo.newClient(), // nodeName/podName/clusterName labels from the environment
      opts.excludedPrefixes ?? excludedprefixes.newClient({ awarenessGroups: opts.awarenessGroups }), // this client's connections never get overlapping addresses or routes, but within an awareness group
      ...(opts.dnsResolvConf ? [dnscontext.newClient({ resolvConfPath: opts.dnsResolvConf })] : []), // mesh names via the mesh's DNS
      l7bypass.newClient({
        policy: opts.l7Bypass,
        iptables: l7bypass.newIptables(opts.l7Iptables),
      }), // mesh traffic skips the pod's L7 sidecar unless the NSURL says ?l7=capture
      kernel.newClient(), // our namespace goes into the KERNEL mechanism
    ],
  });
  const connections: Connection[] = [];
  const closeAll = async () => {
    await Promise.allSettled(
      connections.map(async (conn) => {
        const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
        try {
          await chain.close(ctx, conn);
        } finally {
          cancel();
        }
      }),
    );
    await pool.close();
  };
  try {
    for (const [i, u] of urls.entries()) {
      const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
      try {
        const conn = await requestWithRetry(ctx, chain, {
          connection: Connection.fromPartial({
            id: `${opts.name}-${i}`,
            networkService: u.networkService,
            labels: { ...opts.labels, ...u.labels },
          }),
          mechanismPreferences: [structuredClone(u.mechanism)],
        });
        connections.push(conn);
      } finally {
        cancel();
      }
    }
  } catch (e) {
    await closeAll();
    throw e;
  }
  return { connections, close: closeAll };
}
