// The bench's own network service client: the same client chain as examples/nsc (updatepath, begin,
// updatetoken, metadata, kernel mechanism, the nsmgr's URL, the gRPC call), driven from the bench
// process so a measured Request is only the mesh's work, not a Node start-up per request. Each
// request names its pod by path (file:///var/run/netns/<pod>) in the KERNEL mechanism preference.
import { setMaxListeners } from 'node:events';
import { status } from '@grpc/grpc-js';
import { Connection } from '../api/gen/networkservice/connection.js';
import { type Context, withTimeout } from '../sdk/core/context.js';
import { newNetworkServiceChain } from '../sdk/core/next.js';
import type { NetworkServiceClient } from '../sdk/core/types.js';
import { isNsmError } from '../sdk/errors/index.js';
import { ClientPool } from '../sdk/grpc/client-pool.js';
import * as begin from '../sdk/networkservice/begin/index.js';
import * as clienturl from '../sdk/networkservice/clienturl/index.js';
import * as connect from '../sdk/networkservice/connect/index.js';
import {
  CLS_LOCAL,
  KERNEL,
  mechanism,
  PARAM_INODE_URL,
  PARAM_NAME,
} from '../sdk/networkservice/mechanisms/common.js';
import * as kernel from '../sdk/networkservice/mechanisms/kernel/index.js';
import * as metadata from '../sdk/networkservice/metadata/index.js';
import * as updatepath from '../sdk/networkservice/updatepath/index.js';
import * as updatetoken from '../sdk/networkservice/updatetoken/index.js';

export const REQUEST_TIMEOUT_MS = 15_000;

export interface Timed<T> {
  value: T;
  ms: number;
}

export interface RequestSpec {
  /** Connection id, unique in the run. */
  id: string;
  /** Pod namespace name under /var/run/netns. */
  netns: string;
  service: string;
  ifname?: string;
  /** Request labels (e.g. `dnsName` for a vL3 member). */
  labels?: Record<string, string>;
}

export class MeshClient {
  private readonly pool = new ClientPool();
  private readonly chain: NetworkServiceClient;
  /**
   * The parent of every request's context. Its own signal, not background()'s: hundreds of requests
   * in flight each add an abort listener to the parent, which must not warn about a leak.
   */
  private readonly root: Context;

  constructor(readonly nsmgrSocket: string) {
    const controller = new AbortController();
    setMaxListeners(0, controller.signal);
    this.root = { signal: controller.signal, values: new Map() };
    this.chain = newNetworkServiceChain(
      updatepath.newClient('nsm-bench'), // our own path segment, index 0
      begin.newClient(), // one event at a time per connection
      updatetoken.newClient({ maxTokenLifetimeMs: 10 * 60_000 }), // token and expiry on our segment
      metadata.newServer(), // per-connection state
      kernel.newClient(), // fills the KERNEL preference (ours already names the pod)
      clienturl.newClient(`unix://${nsmgrSocket}`), // the node's nsmgr
      connect.newServer(this.pool), // the gRPC call
    );
  }

  /** Request → Connection; `ms` is the wall time from the call to the returned connection. */
  async request(spec: RequestSpec): Promise<Timed<Connection>> {
    const { ctx, cancel } = withTimeout(this.root, REQUEST_TIMEOUT_MS);
    const started = performance.now();
    try {
      const value = await this.chain.request(ctx, {
        connection: Connection.fromPartial({
          id: spec.id,
          networkService: spec.service,
          labels: spec.labels ?? {},
        }),
        mechanismPreferences: [
          mechanism(CLS_LOCAL, KERNEL, {
            [PARAM_INODE_URL]: `file:///var/run/netns/${spec.netns}`,
            [PARAM_NAME]: spec.ifname ?? 'nsm-1',
          }),
        ],
      });
      return { value, ms: performance.now() - started };
    } catch (e) {
      // A request we gave up on may still have succeeded along the path: its answer was on its way
      // when our deadline passed (every hop checks its caller before answering, but an answer in
      // flight cannot be called back). Like a runtime that runs CNI DEL after a failed ADD, close it;
      // the nsmgr finds its connection by our path segment. Not awaited: the failure is reported now.
      if (isNsmError(e) && (e.code === status.DEADLINE_EXCEEDED || e.code === status.CANCELLED)) {
        const abandoned = Connection.fromPartial({ id: spec.id, networkService: spec.service, labels: {} });
        this.close(abandoned).catch(() => {});
      }
      throw e;
    } finally {
      cancel();
    }
  }

  /** Close; resolves with its wall time. */
  async close(conn: Connection): Promise<number> {
    const { ctx, cancel } = withTimeout(this.root, REQUEST_TIMEOUT_MS);
    const started = performance.now();
    try {
      await this.chain.close(ctx, conn);
      return performance.now() - started;
    } finally {
      cancel();
    }
  }

  dispose(): void {
    void this.pool.close(); // closing channels is synchronous in grpc-js
  }
}
