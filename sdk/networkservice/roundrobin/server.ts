// roundrobin chooses one of discover's candidates, rotating per network service so clients
// spread over endpoints, and moves on to the next candidate when one fails. The choice is kept in
// metadata so Close (and refresh) reach the same endpoint.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorCode, getErrorMessage, internal, NsmError } from '../../errors/index.js';
import { logger } from '../../tools/log.js';
import { withClientURL } from '../clienturl/index.js';
import { candidates } from '../discover/server.js';
import * as metadata from '../metadata/index.js';

const log = logger('roundrobin');
const SELECTED_URL_KEY = Symbol('roundrobin-selected-url');

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
        metadata.store(ctx, false, SELECTED_URL_KEY, nse.url);
        return result;
      } catch (e) {
        lastError = e;
        failures.push(`${nse.name}: ${getErrorMessage(e)}`);
        log.debug({ err: e, nse: nse.name, id: conn.id }, 'candidate failed');
        if (ctx.signal.aborted) break;
      }
    }
    if (nses.length === 1) throw lastError;
    throw new NsmError(getErrorCode(lastError), `all candidates have failed: ${failures.join('; ')}`, {
      cause: lastError,
    });
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const url = metadata.loadAndDelete<string>(ctx, false, SELECTED_URL_KEY);
    await next.server(ctx).close(url ? withClientURL(ctx, url) : ctx, conn);
  }
}

export function newServer(): NetworkServiceServer {
  return new RoundRobinServer();
}
