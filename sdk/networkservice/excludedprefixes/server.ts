// excludedprefixes (nsmgr) adds the node's excluded prefixes (the cluster's pod and service CIDRs,
// from a YAML file the nsmgr reads again when it changes) to every request's
// ip_context.excluded_prefixes, so the endpoint's IPAM keeps out of them. Coming back it checks the
// answer: an endpoint that still handed out an address inside them (an IPAM that ignores the field, or
// an address a client carried in) fails the request with FAILED_PRECONDITION naming the addresses and
// prefixes, after closing what was set up. The client gets its own list back, unchanged.
// Chain placement: in the nsmgr, before discover/connect (upstream: after discoverforwarder).
import { ConnectionContext, IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { failedPrecondition } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { describeOverlaps, grantedAddresses, mergePrefixes, overlaps, routePrefixes } from './common.js';
import type { PrefixSource } from './source.js';

const log = logger('excludedprefixes');

export interface ExcludedPrefixesServerOptions {
  /** Where the prefixes come from (`newFilePrefixSource`, or `staticPrefixes` in tests). */
  readonly source: PrefixSource;
}

class ExcludedPrefixesServer implements NetworkServiceServer {
  constructor(private readonly source: PrefixSource) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= IPContext.fromPartial({});
    const own = [...conn.context.ipContext.excludedPrefixes];
    const excluded = this.source.current();
    conn.context.ipContext.excludedPrefixes = mergePrefixes(own, excluded);
    const result = await next.server(ctx).request(ctx, req);
    const ip = result.context?.ipContext;
    const badAddrs = overlaps(grantedAddresses(ip), excluded);
    const badRoutes = overlaps(routePrefixes(ip), excluded);
    if (badAddrs.length + badRoutes.length > 0) {
      const what = [
        badAddrs.length ? `addresses inside the excluded prefixes: ${describeOverlaps(badAddrs)}` : '',
        badRoutes.length ? `routes overlapping the excluded prefixes: ${describeOverlaps(badRoutes)}` : '',
      ];
      const err = failedPrecondition(
        `failed to connect ${conn.id}: the endpoint handed out ${what.filter(Boolean).join('; ')}`,
      );
      const { ctx: closeCtx, cancel } = postpone(ctx)();
      await next
        .server(ctx)
        .close(closeCtx, result)
        .catch((e: unknown) => log.warn({ err: e, id: conn.id }, 'closing a conflicting connection failed'))
        .finally(cancel);
      throw err;
    }
    if (result.context?.ipContext) result.context.ipContext.excludedPrefixes = own;
    return result;
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: ExcludedPrefixesServerOptions): NetworkServiceServer {
  if (!opts?.source) throw new TypeError('excludedprefixes.newServer: a prefix source is required');
  return new ExcludedPrefixesServer(opts.source);
}
