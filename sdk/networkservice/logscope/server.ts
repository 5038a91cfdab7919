// logscope makes every line logged while this hop works on a connection carry the hop's name and the
// connection's id (`hop`, `id`), without code in the elements: the rest of the chain runs in a log
// scope (sdk/tools/log.ts withLogFields; pino adds the fields to each line). It sits right after
// begin, where the id is final (updatepath set it) and where refresh, heal and expiry re-enter.
// Works for client and server chains alike.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceElement, NetworkServiceRequest } from '../../core/types.js';
import { withLogFields } from '../../tools/log.js';

class LogScope implements NetworkServiceElement {
  constructor(private readonly hop: string) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    return withLogFields({ hop: this.hop, id: req.connection?.id }, () => next.server(ctx).request(ctx, req));
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return withLogFields({ hop: this.hop, id: conn.id }, () => next.server(ctx).close(ctx, conn));
  }
}

/** For server and client chains: `name` is this hop's name on the path segment. */
export function newServer(opts: { name: string }): NetworkServiceElement {
  if (!opts?.name) throw new Error('logscope.newServer: a hop name is required');
  return new LogScope(opts.name);
}
export const newClient = newServer;
