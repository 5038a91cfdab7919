// excludedprefixes (client) keeps a client's connections apart (upstream's client-side
// excludedprefixes): each request excludes the addresses and routes the client's *other* connections
// put into its namespace, so the endpoint's IPAM picks around them. If the answer still overlaps them
// (the endpoint could not avoid it), the connection is closed again and the request fails with
// FAILED_PRECONDITION naming the prefixes: two interfaces claiming one range would break both.
// Default routes (/0) of a connection are not excluded from the others: every address is inside them.
// Chain placement: in the client chain, before connect (so heal and refresh re-enter above it).
import { ConnectionContext, IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { failedPrecondition } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { clientPrefixes, describeOverlaps, mergePrefixes, overlaps } from './common.js';

const log = logger('excludedprefixes');

class ExcludedPrefixesClient implements NetworkServiceClient {
  /** Shared across connections by design: what each of this client's connections holds. */
  private readonly held = new Map<string, string[]>();

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= IPContext.fromPartial({});
    const own = [...conn.context.ipContext.excludedPrefixes];
    const others = this.othersThan(conn.id);
    conn.context.ipContext.excludedPrefixes = mergePrefixes(own, others);
    const result = await next.client(ctx).request(ctx, req);
    const mine = clientPrefixes(result.context?.ipContext);
    const bad = overlaps(mine, this.othersThan(conn.id));
    if (bad.length > 0) {
      const err = failedPrecondition(
        `failed to connect ${conn.id}: its addresses or routes overlap other connections of this client: ${describeOverlaps(bad)}`,
      );
      // Only a first request is undone; a refresh keeps what it had (the overlap came from elsewhere).
      if (!this.held.has(conn.id)) {
        const { ctx: closeCtx, cancel } = postpone(ctx)();
        await next
          .client(ctx)
          .close(closeCtx, result)
          .catch((e: unknown) =>
            log.warn({ err: e, id: conn.id }, 'closing an overlapping connection failed'),
          )
          .finally(cancel);
      }
      throw err;
    }
    this.held.set(conn.id, mine);
    if (result.context?.ipContext) result.context.ipContext.excludedPrefixes = own;
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    this.held.delete(conn.id);
    await next.client(ctx).close(ctx, conn);
  }

  private othersThan(id: string): string[] {
    const out: string[] = [];
    for (const [other, prefixes] of this.held) {
      if (other !== id) out.push(...prefixes.filter((p) => !p.endsWith('/0')));
    }
    return [...new Set(out)];
  }
}

/** One per client process: it must see all of the client's connections. */
export function newClient(): NetworkServiceClient {
  return new ExcludedPrefixesClient();
}
