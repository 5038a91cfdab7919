// roundrobin chooses one of discover's candidates, rotating per network service so clients
// spread over endpoints, and moves on to the next candidate when one fails. The choice is kept in
// metadata (through discover's helpers, so discover can skip the registry on refresh) so Close and
// refresh reach the same endpoint.
// When the matching routes carry weights (NetworkService routes[].weight, which upstream carries and
// ignores), the first candidate tried is a smooth weighted round robin instead (nginx's: each pick
// adds every weight to its candidate's credit, the richest is chosen and pays the total), so N new
// connections split by the weights within one connection of exact, with no randomness to flake. A
// candidate whose route gave no weight counts as weight 1 then.
import { status } from '@grpc/grpc-js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorCode, getErrorMessage, internal, NsmError } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { withClientURL } from '../clienturl/index.js';
import { candidates, candidateWeights, loadAndDeleteSelected, storeSelected } from '../discover/index.js';

const log = logger('roundrobin');

export interface RoundRobinOptions {
  /**
   * Whether the registry names an endpoint for `conn`'s service other than the one at `url`. When
   * the connection's only endpoint is a dead local socket, the client is told to reselect (NOT_FOUND)
   * only if so: reselecting to nothing would close the connection on every hop, where a repair keeps
   * it (DOWN, visible to `nsmctl diagnose`) until the endpoint is back or another one registers.
   * Absent: always reselect.
   */
  anotherEndpoint?: (conn: Connection, url: string) => Promise<boolean>;
}

class RoundRobinServer implements NetworkServiceServer {
  constructor(private readonly opts: RoundRobinOptions) {}

  private readonly counters = new Map<string, number>();
  /** Smooth weighted round robin credit per network service, per endpoint name. */
  private readonly credits = new Map<string, Map<string, number>>();

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const nses = candidates(ctx);
    if (!nses || nses.length === 0)
      throw internal('roundrobin: no candidates (is discover before roundrobin?)');
    const start = this.first(conn.networkService, nses, candidateWeights(ctx));
    const failures: string[] = [];
    let lastError: unknown;
    for (let i = 0; i < nses.length; i++) {
      const nse = nses[(start + i) % nses.length];
      conn.networkServiceEndpointName = nse.name;
      try {
        const result = await next.server(ctx).request(withClientURL(ctx, nse.url), req);
        storeSelected(ctx, { name: nse.name, url: nse.url });
        return result;
      } catch (e) {
        lastError = e;
        failures.push(`${nse.name}: ${getErrorMessage(e)}`);
        log.debug({ err: e, nse: nse.name, id: conn.id }, 'candidate failed');
        if (ctx.signal.aborted) break;
      }
    }
    if (nses.length === 1) {
      // The endpoint this connection uses is a local socket that no longer answers: it is gone,
      // not restarting somewhere on the path, so the client should reselect (see heal).
      const only = nses[0];
      if (
        conn.networkServiceEndpointName &&
        only.url.startsWith('unix:') &&
        getErrorCode(lastError) === status.UNAVAILABLE &&
        (await this.elsewhere(conn, only.url))
      ) {
        throw new NsmError(
          status.NOT_FOUND,
          `network service endpoint "${only.name}" is not reachable: ${getErrorMessage(lastError)}`,
          { cause: lastError },
        );
      }
      throw lastError;
    }
    throw new NsmError(getErrorCode(lastError), `all candidates have failed: ${failures.join('; ')}`, {
      cause: lastError,
    });
  }

  /** Whether another endpoint serves the connection's service; unknown (no answer) counts as no. */
  private async elsewhere(conn: Connection, url: string): Promise<boolean> {
    if (!this.opts.anotherEndpoint) return true;
    return this.opts.anotherEndpoint(conn, url).catch(() => false);
  }

  /** Index of the candidate to try first: weighted when any weight is given, else the next in turn. */
  private first(
    service: string,
    nses: readonly { name: string }[],
    weights: ReadonlyMap<string, number> | undefined,
  ): number {
    // One candidate is no choice (a refresh, a request naming its endpoint, as vL3 peers do): it
    // must not move the rotation, or such requests decide where the next new connection goes.
    if (nses.length === 1) return 0;
    if (!weights || ![...weights.values()].some((w) => w > 0)) {
      const start = this.counters.get(service) ?? 0;
      this.counters.set(service, start + 1);
      return start;
    }
    const previous = this.credits.get(service) ?? new Map<string, number>();
    const credit = new Map<string, number>(); // endpoints gone from the candidates lose their credit
    let total = 0;
    let best = 0;
    nses.forEach((nse, i) => {
      const weight = Math.max(weights.get(nse.name) ?? 0, 0) || 1;
      total += weight;
      credit.set(nse.name, (previous.get(nse.name) ?? 0) + weight);
      if (credit.get(nse.name)! > credit.get(nses[best].name)!) best = i;
    });
    credit.set(nses[best].name, credit.get(nses[best].name)! - total);
    this.credits.set(service, credit);
    return best;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const selected = loadAndDeleteSelected(ctx);
    await next.server(ctx).close(selected ? withClientURL(ctx, selected.url) : ctx, conn);
  }
}

export function newServer(opts: RoundRobinOptions = {}): NetworkServiceServer {
  return new RoundRobinServer(opts);
}
