// requestlabels (nsmgr) adds what the nsmgr knows about where a request comes from to the request's
// labels, so NetworkService matches can select by it: `nodeName` (the node of this nsmgr, i.e. of
// the client or CNF that asked) and `clientName` (the name on the caller's path segment). Labels
// the request already carries are kept: the client's own (an NSURL label, upstream's clientinfo)
// win, and a request arriving from another node's nsmgr already has its origin's node. It sits
// right after the endpoint prefix (updatepath has made this hop's segment current), before
// discoverforwarder, whose forwarder selector may use the labels too.
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';

export const NODE_NAME_LABEL = 'nodeName';
export const CLIENT_NAME_LABEL = 'clientName';

export interface RequestLabelsOptions {
  /** The node this nsmgr runs on; empty: no nodeName label. */
  nodeName?: string;
}

class RequestLabelsServer implements NetworkServiceServer {
  constructor(private readonly opts: RequestLabelsOptions) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.labels ??= {};
    if (this.opts.nodeName && conn.labels[NODE_NAME_LABEL] === undefined)
      conn.labels[NODE_NAME_LABEL] = this.opts.nodeName;
    const caller = conn.path?.pathSegments[(conn.path?.index ?? 0) - 1]?.name;
    if (caller && conn.labels[CLIENT_NAME_LABEL] === undefined) conn.labels[CLIENT_NAME_LABEL] = caller;
    return next.server(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: RequestLabelsOptions = {}): NetworkServiceServer {
  return new RequestLabelsServer(opts);
}
