// The network service client (NSC): requests one connection per NSURL from the local nsmgr,
// holds them, and closes them on stop. It runs inside the workload's network namespace and names
// that namespace by inode, so the forwarder puts the interface there.
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { newNetworkServiceChain } from '../../sdk/core/next.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import * as begin from '../../sdk/networkservice/begin/index.js';
import * as clientinfo from '../../sdk/networkservice/clientinfo/index.js';
import * as clienturl from '../../sdk/networkservice/clienturl/index.js';
import * as connect from '../../sdk/networkservice/connect/index.js';
import * as heal from '../../sdk/networkservice/heal/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
import * as metadata from '../../sdk/networkservice/metadata/index.js';
import * as refresh from '../../sdk/networkservice/refresh/index.js';
import * as updatepath from '../../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../../sdk/networkservice/updatetoken/index.js';
import { parseNsurlList } from '../../sdk/tools/nsurl/index.js';

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
}

export interface Nsc {
  readonly connections: Connection[];
  close(): Promise<void>;
}

export async function startNsc(opts: NscOptions): Promise<Nsc> {
  const urls = parseNsurlList(opts.networkServices);
  const pool = new ClientPool();
  const chain = newNetworkServiceChain(
    updatepath.newClient(opts.name), // our own path segment, index 0
    begin.newClient(), // one event at a time per connection
    updatetoken.newClient({ maxTokenLifetimeMs: opts.maxTokenLifetimeMs }), // token and expiry on our segment
    metadata.newServer(), // per-connection state
    refresh.newClient(), // re-requests end to end before any hop's segment expires
    clientinfo.newClient(), // nodeName/podName/clusterName labels from the environment
    kernel.newClient(), // our namespace goes into the KERNEL mechanism
    clienturl.newClient(opts.connectTo), // the local nsmgr
    heal.newClient({
      pool,
      livenessCheck: opts.livenessCheck === false ? undefined : heal.kernelLivenessCheck,
      livenessIntervalMs: opts.livenessIntervalMs,
      livenessTimeoutMs: opts.livenessTimeoutMs,
    }), // watches the connection (monitor stream, data plane) and repairs or reselects
    connect.newServer(pool), // the gRPC call
  );
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
    pool.dispose();
  };
  try {
    for (const [i, u] of urls.entries()) {
      const { ctx, cancel } = withTimeout(background(), opts.requestTimeoutMs);
      try {
        const conn = await chain.request(ctx, {
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
