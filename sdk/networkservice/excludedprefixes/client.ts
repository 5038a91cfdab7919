// excludedprefixes (client) keeps a client's connections apart (upstream's client-side
// excludedprefixes): each request excludes the addresses and routes the client's *other* connections
// put into its namespace, so the endpoint's IPAM picks around them. If the answer still overlaps them
// (the endpoint could not avoid it), the connection is closed again and the request fails with
// FAILED_PRECONDITION naming the prefixes: two interfaces claiming one range would break both.
// Default routes (/0) of a connection are not excluded from the others: every address is inside them.
//
// Awareness groups (options.ts, upstream's WithAwarenessGroups): two connections whose NSURLs are in
// the same group are not kept apart: neither excludes the other's prefixes, nor is an overlap between
// them an error (upstream's mutually-aware-nses: two endpoints with the same CIDR, each connection
// keeps the addresses its endpoint chose). Everything else stays as above: a grouped connection is
// kept apart from ungrouped ones and from other groups, in both directions. A connection's group is
// fixed at its first request (from its network service, mechanism type, interface name and labels)
// and kept across refreshes.
// Chain placement: in the client chain, before connect (so heal and refresh re-enter above it).
import { ConnectionContext, IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { type Context, postpone } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { failedPrecondition } from '../../errors/index.js';
import { type AwarenessGroup, groupOf } from '../../tools/awarenessgroups/index.js';
import { logger } from '../../tools/log.js';
import { INTERFACE_NAME_KEY } from '../../tools/nsurl/index.js';
import { clientPrefixes, describeOverlaps, mergePrefixes, overlaps } from './common.js';
import type { ClientOptions } from './options.js';

const log = logger('excludedprefixes');

interface Held {
  readonly prefixes: string[];
  /** Index into the awareness groups; undefined: in none. */
  readonly group: number | undefined;
}

class ExcludedPrefixesClient implements NetworkServiceClient {
  /** Shared across connections by design: what each of this client's connections holds. */
  private readonly held = new Map<string, Held>();

  constructor(private readonly groups: readonly AwarenessGroup[]) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    conn.context.ipContext ??= IPContext.fromPartial({});
    const own = [...conn.context.ipContext.excludedPrefixes];
    const group = this.held.has(conn.id) ? this.held.get(conn.id)!.group : this.groupOf(req);
    const others = this.othersThan(conn.id, group);
    conn.context.ipContext.excludedPrefixes = mergePrefixes(own, others);
    const result = await next.client(ctx).request(ctx, req);
    const mine = clientPrefixes(result.context?.ipContext);
    const bad = overlaps(mine, this.othersThan(conn.id, group));
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
    this.held.set(conn.id, { prefixes: mine, group });
    if (result.context?.ipContext) result.context.ipContext.excludedPrefixes = own;
    return result;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    this.held.delete(conn.id);
    await next.client(ctx).close(ctx, conn);
  }

  /** The prefixes of the connections `id` must stay apart from: all others but its own group's. */
  private othersThan(id: string, group: number | undefined): string[] {
    const out: string[] = [];
    for (const [other, held] of this.held) {
      if (other === id || (group !== undefined && held.group === group)) continue;
      out.push(...held.prefixes.filter((p) => !p.endsWith('/0')));
    }
    return [...new Set(out)];
  }

  private groupOf(req: NetworkServiceRequest): number | undefined {
    if (this.groups.length === 0) return undefined;
    const conn = req.connection!;
    // A first request names its mechanism in the preferences; a reselect or refresh may carry it.
    const mechanism = conn.mechanism ?? req.mechanismPreferences[0];
    return groupOf(this.groups, {
      mechanismType: mechanism?.type ?? '',
      networkService: conn.networkService,
      interfaceName: mechanism?.parameters[INTERFACE_NAME_KEY],
      labels: conn.labels,
    });
  }
}

/** One per client process: it must see all of the client's connections. */
export function newClient(opts: ClientOptions = {}): NetworkServiceClient {
  return new ExcludedPrefixesClient(opts.awarenessGroups ?? []);
}
