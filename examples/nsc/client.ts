// The network service client (NSC): requests one connection per NSURL from the local nsmgr,
// holds them, and closes them on stop. It runs inside the workload's network namespace and names
// that namespace by inode, so the forwarder puts the interface there.
import { Connection } from '../../api/gen/networkservice/connection.js';
import { background, withTimeout } from '../../sdk/core/context.js';
import { ClientPool } from '../../sdk/grpc/client-pool.js';
import * as client from '../../sdk/networkservice/chains/client/index.js';
import * as clientinfo from '../../sdk/networkservice/clientinfo/index.js';
import * as heal from '../../sdk/networkservice/heal/index.js';
import * as kernel from '../../sdk/networkservice/mechanisms/kernel/index.js';
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
  const chain = client.newClient({
    name: opts.name,
    connectTo: opts.connectTo, // the local nsmgr
    pool,
    maxTokenLifetimeMs: opts.maxTokenLifetimeMs,
    heal: {
      livenessCheck: opts.livenessCheck === false ? undefined : heal.kernelLivenessCheck,
      livenessIntervalMs: opts.livenessIntervalMs,
      livenessTimeoutMs: opts.livenessTimeoutMs,
    }, // watches the connection (monitor stream, data plane) and repairs or reselects
    additionalFunctionality: [
      clientinfo.newClient(), // nodeName/podName/clusterName labels from the environment
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
