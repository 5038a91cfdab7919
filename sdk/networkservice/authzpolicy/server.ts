// authzpolicy (nsmgr, after netnsowner) applies the authorization policy (NSM_AUTHZ_POLICY_FILE,
// sdk/tools/authzpolicy) to every Request, refresh included (a policy change takes effect at the
// next refresh): the caller must be allowed to request the connection's network service. The
// caller is the one this nsmgr sees: over mTLS the peer's SPIFFE ID (a remote forwarder, for the
// second node of a remote connection), over the unix socket the SPIFFE ID its signed path segment
// proves (a local client or CNF with an SVID). Refused: PERMISSION_DENIED naming identity and
// service, before anything below acts on the request.
//
// Close is not checked: closing needs no permission beyond owning the connection, which is a
// separate guarantee. Without identities (insecure mode) the policy cannot apply: logged once.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
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
  /** This daemon's identity (its bundle checks local callers' tokens); default: the process's. */
  readonly identity?: X509Source;
}

class AuthzPolicyServer implements NetworkServiceServer {
  private readonly enforcement: Enforcement;

  constructor(private readonly opts: AuthzPolicyOptions) {
    if (!opts.source) throw new Error('authzpolicy: a policy source is required');
    this.enforcement = newEnforcement(opts.source, () => this.identity() !== undefined);
  }

  private identity(): X509Source | undefined {
    return this.opts.identity ?? defaultSecurity().source;
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection;
    const caller = await callerOf(ctx, conn, this.identity()?.bundlePem());
    checkAllowed(this.enforcement, caller, 'request', [conn?.networkService ?? '']);
    return next.server(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: AuthzPolicyOptions): NetworkServiceServer {
  return new AuthzPolicyServer(opts);
}
