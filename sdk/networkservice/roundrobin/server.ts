// roundrobin chooses one of discover's candidates, rotating per network service so clients
// spread over endpoints, and moves on to the next candidate when one fails. The choice is kept in
// metadata (through discover's helpers, so discover can skip the registry on refresh) so Close and
// refresh reach the same endpoint.
import { status } from '@grpc/grpc-js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorCode, getErrorMessage, internal, NsmError } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { withClientURL } from '../clienturl/index.js';
import { candidates, loadAndDeleteSelected, storeSelected } from '../discover/index.js';

const log = logger('roundrobin');

class RoundRobinServer implements NetworkServiceServer {
  private readonly counters = new Map<string, number>();

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const nses = candidates(ctx);
    if (!nses || nses.length === 0)
      throw internal('roundrobin: no candidates (is discover before roundrobin?)');
    const start = this.counters.get(conn.networkService) ?? 0;
    this.counters.set(conn.networkService, start + 1);
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
        getErrorCode(lastError) === status.UNAVAILABLE
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

  async close(ctx: Context, conn: Connection): Promise<void> {
    const selected = loadAndDeleteSelected(ctx);
    await next.server(ctx).close(selected ? withClientURL(ctx, selected.url) : ctx, conn);
  }
}

export function newServer(): NetworkServiceServer {
  return new RoundRobinServer();
}
