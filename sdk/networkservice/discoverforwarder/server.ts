// discoverforwarder (nsmgr) picks the local forwarder that will carry a connection: the forwarders
// registered through this nsmgr (service "forwarder", url = this nsmgr's URL), filtered by the
// NetworkService's forwarder selector (matches[].metadata.labels). The choice sticks to the
// connection (metadata) until a reselect; after an nsmgr restart the forwarder named in the next
// path segment is preferred, so existing connections stay on the forwarder that owns them.
// When no forwarder is registered yet (this nsmgr just started or resumed, and the forwarder's
// registration, which lapsed or was never made, is being made again at once), it looks again every
// LOOKUP_RETRY_MS for up to NO_FORWARDER_WAIT_MS of the request's time instead of failing at once,
// as upstream's discover waits for endpoints within the request's deadline.
import { State } from '../../../api/gen/networkservice/connection.js';
import type { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorCode, getErrorMessage, NsmError, notFound, unavailable } from '../../errors/index.js';
import { sleep } from '../../tools/backoff/index.js';
import {
  DEFAULT_FORWARDER_LABELS,
  isSubset,
  type Labels,
  matchForwarders,
} from '../../tools/matchutils/index.js';
import { withClientURL } from '../clienturl/index.js';
import type { Finder } from '../discover/common.js';
import * as metadata from '../metadata/index.js';

export const FORWARDER_SERVICE_NAME = 'forwarder';
const SELECTED_KEY = Symbol('discoverforwarder-selected');
export const LOOKUP_RETRY_MS = 100;
export const NO_FORWARDER_WAIT_MS = 3_000;

interface Selected {
  name: string;
  url: string;
}

export interface DiscoverForwarderOptions {
  finder: Finder;
  /** This nsmgr's public URL: forwarders registered through it are the local ones. */
  nsmgrURL: string;
  forwarderServiceName?: string;
}

class DiscoverForwarderServer implements NetworkServiceServer {
  private readonly serviceName: string;

  constructor(private readonly opts: DiscoverForwarderOptions) {
    this.serviceName = opts.forwarderServiceName ?? FORWARDER_SERVICE_NAME;
  }

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    if (conn.state === State.RESELECT_REQUESTED) metadata.loadAndDelete(ctx, false, SELECTED_KEY);
    const sticky = metadata.load<Selected>(ctx, false, SELECTED_KEY);
    if (sticky) return next.server(ctx).request(withClientURL(ctx, sticky.url), req);

    const c = clock(ctx);
    const waitUntil = Math.min(c.now() + NO_FORWARDER_WAIT_MS, ctx.deadline ?? Number.POSITIVE_INFINITY);
    let forwarders: NetworkServiceEndpoint[];
    let usable: NetworkServiceEndpoint[];
    let service: NetworkService | undefined;
    for (;;) {
      const [found, ns] = await Promise.all([
        this.opts.finder.endpoints(ctx, { networkServiceNames: [this.serviceName], url: this.opts.nsmgrURL }),
        this.opts.finder.networkService(ctx, conn.networkService),
      ]);
      forwarders = found;
      service = ns;
      usable = matchForwarders(ns, forwarders, conn.labels ?? {}, { serviceName: this.serviceName });
      if (usable.length > 0 || forwarders.length > 0 || c.now() + LOOKUP_RETRY_MS > waitUntil) break;
      await sleep(ctx, LOOKUP_RETRY_MS);
    }
    if (forwarders.length === 0) throw unavailable('no forwarder is registered on this node');
    if (usable.length === 0) {
      // A selector nobody on this node has is a configuration fact, not a passing outage.
      const wanted = forwarderSelectors(service, conn.labels ?? {}).map((l) => JSON.stringify(l));
      throw notFound(
        `no forwarder on this node has the labels ${wanted.join(' or ') || '(no match applies)'} that network service "${conn.networkService}" selects (forwarders: ${forwarders.map((f) => `${f.name} ${JSON.stringify(f.networkServiceLabels[this.serviceName]?.labels ?? {})}`).join(', ')})`,
      );
    }
    const failures: string[] = [];
    let lastError: unknown;
    for (const fwd of this.order(conn, usable)) {
      try {
        const result = await next.server(ctx).request(withClientURL(ctx, fwd.url), req);
        metadata.store<Selected>(ctx, false, SELECTED_KEY, { name: fwd.name, url: fwd.url });
        return result;
      } catch (e) {
        lastError = e;
        failures.push(`${fwd.name}: ${getErrorMessage(e)}`);
        if (ctx.signal.aborted) break;
      }
    }
    if (usable.length === 1) throw lastError;
    throw new NsmError(getErrorCode(lastError), `all forwarders have failed: ${failures.join('; ')}`, {
      cause: lastError,
    });
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    let selected = metadata.loadAndDelete<Selected>(ctx, false, SELECTED_KEY);
    if (!selected) {
      // Not ours in memory (e.g. nsmgr restarted): find the forwarder the path names.
      const name = conn.path?.pathSegments[(conn.path?.index ?? 0) + 1]?.name;
      if (name) {
        const found = await this.opts.finder.endpoints(ctx, { name }).catch(() => []);
        const fwd = found.find((f) => f.name === name);
        if (fwd) selected = { name: fwd.name, url: fwd.url };
      }
    }
    await next.server(ctx).close(selected ? withClientURL(ctx, selected.url) : ctx, conn);
  }

  /** The forwarder named in the next path segment first, then the rest in registry order. */
  private order(conn: Connection, forwarders: NetworkServiceEndpoint[]): NetworkServiceEndpoint[] {
    const named = conn.path?.pathSegments[(conn.path?.index ?? 0) + 1]?.name;
    const preferred = forwarders.filter((f) => f.name === named);
    return [...preferred, ...forwarders.filter((f) => f.name !== named)];
  }
}

/** The forwarder labels the matches that apply to a request ask for (for the error message). */
function forwarderSelectors(ns: NetworkService | undefined, labels: Labels): Labels[] {
  return (ns?.matches ?? [])
    .filter((m) => isSubset(labels, m.sourceSelector, labels))
    .map((m) =>
      Object.keys(m.metadata?.labels ?? {}).length > 0 ? m.metadata!.labels : DEFAULT_FORWARDER_LABELS,
    );
}

export function newServer(opts: DiscoverForwarderOptions): NetworkServiceServer {
  return new DiscoverForwarderServer(opts);
}
