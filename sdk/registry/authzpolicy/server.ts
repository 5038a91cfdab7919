// authzpolicy (registry, after validate) applies the authorization policy (NSM_AUTHZ_POLICY_FILE,
// sdk/tools/authzpolicy) to Register calls: an endpoint registration needs `registerEndpoints` for
// its name and `registerServices` for every network service it offers (so a fake "forwarder" is
// refused unless its identity may register the forwarder service); a network service registration
// needs `registerServices` for its name. The caller is the mTLS peer's SPIFFE ID: for endpoints
// registered through an nsmgr, the nsmgr's (it registers its local endpoints under its own identity).
// Refused: PERMISSION_DENIED naming identity and name, before the store changes.
//
// Unregister is not checked here (only the owner may unregister: owner); Find is open to every
// caller the transport let in. Without identities (insecure mode) the policy cannot apply: logged once.
import type {
  NetworkService,
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
  NetworkServiceQuery,
  NetworkServiceResponse,
} from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { FindSink, NseRegistry, NsRegistry } from '../../core/types.js';
import { defaultSecurity } from '../../grpc/transport-security.js';
import {
  callerOf,
  checkAllowed,
  type Enforcement,
  newEnforcement,
  type PolicySource,
} from '../../tools/authzpolicy/index.js';
import type { X509Source } from '../../tools/spiffe/source.js';

export interface AuthzPolicyOptions {
  /** The policy in force (openPolicyFile). */
  readonly source: PolicySource;
  /** This daemon's identity; default: the process's (without one the policy is not enforced). */
  readonly identity?: X509Source;
}

function enforcement(opts: AuthzPolicyOptions): Enforcement {
  if (!opts.source) throw new Error('authzpolicy: a policy source is required');
  return newEnforcement(opts.source, () => (opts.identity ?? defaultSecurity().source) !== undefined);
}

type Nse = NetworkServiceEndpoint;

class NsePolicy implements NseRegistry {
  constructor(private readonly e: Enforcement) {}

  async register(ctx: Context, nse: Nse): Promise<Nse> {
    const caller = await callerOf(ctx, undefined);
    checkAllowed(this.e, caller, 'registerEndpoints', [nse.name]);
    checkAllowed(this.e, caller, 'registerServices', nse.networkServiceNames);
    return next
      .registry<Nse, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .register(ctx, nse);
  }

  find(ctx: Context, query: NetworkServiceEndpointQuery, sink: FindSink<NetworkServiceEndpointResponse>) {
    return next
      .registry<Nse, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .find(ctx, query, sink);
  }

  unregister(ctx: Context, nse: Nse): Promise<void> {
    return next
      .registry<Nse, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx)
      .unregister(ctx, nse);
  }
}

class NsPolicy implements NsRegistry {
  constructor(private readonly e: Enforcement) {}

  async register(ctx: Context, ns: NetworkService): Promise<NetworkService> {
    checkAllowed(this.e, await callerOf(ctx, undefined), 'registerServices', [ns.name]);
    return next.registry<NetworkService, NetworkServiceQuery, NetworkServiceResponse>(ctx).register(ctx, ns);
  }

  find(ctx: Context, query: NetworkServiceQuery, sink: FindSink<NetworkServiceResponse>) {
    return next
      .registry<NetworkService, NetworkServiceQuery, NetworkServiceResponse>(ctx)
      .find(ctx, query, sink);
  }

  unregister(ctx: Context, ns: NetworkService): Promise<void> {
    return next
      .registry<NetworkService, NetworkServiceQuery, NetworkServiceResponse>(ctx)
      .unregister(ctx, ns);
  }
}

export function newNseServer(opts: AuthzPolicyOptions): NseRegistry {
  return new NsePolicy(enforcement(opts));
}

export function newNsServer(opts: AuthzPolicyOptions): NsRegistry {
  return new NsPolicy(enforcement(opts));
}
