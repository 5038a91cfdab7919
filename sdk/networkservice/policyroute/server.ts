// policyroute (endpoint) puts the endpoint's policy routes (common.ts: upstream's YAML) into every
// connection's ip_context.policies, replacing what was there; the forwarder applies them in the
// client's namespace (sdk/kernel/policy.ts). Chain placement: in the endpoint, after IPAM (next hops
// usually name the endpoint's address), before the mechanism.
import { readFileSync } from 'node:fs';
import {
  ConnectionContext,
  IPContext,
  type PolicyRoute,
} from '../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { parsePolicyFile } from './common.js';

export interface PolicyRouteOptions {
  /** The policies (from `loadPolicyFile`, or given). */
  readonly policies: () => readonly PolicyRoute[];
}

class PolicyRouteServer implements NetworkServiceServer {
  constructor(private readonly policies: () => readonly PolicyRoute[]) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= IPContext.fromPartial({});
    conn.context.ipContext.policies = this.policies().map((p) => structuredClone(p));
    return next.server(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

/** Reads and checks a policy file (INVALID_ARGUMENT naming the file and the policy). */
export function loadPolicyFile(path: string): PolicyRoute[] {
  return parsePolicyFile(readFileSync(path, 'utf8'), path);
}

export function newServer(opts: PolicyRouteOptions): NetworkServiceServer {
  if (typeof opts?.policies !== 'function')
    throw new TypeError('policyroute.newServer: policies is required');
  return new PolicyRouteServer(opts.policies);
}
