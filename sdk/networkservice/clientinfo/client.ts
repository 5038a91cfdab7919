// clientinfo labels a request with where the client runs (NODE_NAME, POD_NAME, CLUSTER_NAME →
// nodeName, podName, clusterName), without overwriting labels the client set itself, so that
// NetworkService matches can select endpoints by topology.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';

const ENV_TO_LABEL: ReadonlyArray<[string, string]> = [
  ['NODE_NAME', 'nodeName'],
  ['POD_NAME', 'podName'],
  ['CLUSTER_NAME', 'clusterName'],
];

class ClientInfo implements NetworkServiceClient {
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.labels ??= {};
    for (const [env, label] of ENV_TO_LABEL) {
      const v = this.env[env];
      if (v && conn.labels[label] === undefined) conn.labels[label] = v;
    }
    return next.client(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.client(ctx).close(ctx, conn);
  }
}

export function newClient(env: NodeJS.ProcessEnv = process.env): NetworkServiceClient {
  return new ClientInfo(env);
}
export const newServer = newClient;
