// dnscontext (endpoint) hands out the endpoint's DNS configuration in the connection's dns_context:
// the servers to ask and the search domains they answer for (icmp-responder: NSM_DNS_SERVERS /
// NSM_DNS_SEARCH_DOMAINS; a vL3 endpoint: its own address and its network's zone). The client side
// (client.ts) applies it. Configs already in the request (set by a hop before) are kept after ours.
// Chain placement: in the endpoint, before the mechanism (it only fills the context).
import {
  ConnectionContext,
  DNSConfig,
  DNSContext,
} from '../../../api/gen/networkservice/connectioncontext.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';

export interface DnsContextServerOptions {
  /** The configs to hand out; called per request (a vL3 endpoint knows its address only later). */
  readonly configs: () => readonly DNSConfig[];
}

class DnsContextServer implements NetworkServiceServer {
  constructor(private readonly configs: () => readonly DNSConfig[]) {}

  request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    conn.context ??= ConnectionContext.fromPartial({});
    const mine = this.configs().map((c) => DNSConfig.fromPartial(c));
    const key = (c: DNSConfig) => JSON.stringify([c.dnsServerIps, c.searchDomains]);
    const seen = new Set(mine.map(key));
    const others = (conn.context.dnsContext?.configs ?? []).filter((c) => !seen.has(key(c)));
    if (mine.length > 0) conn.context.dnsContext = DNSContext.fromPartial({ configs: [...mine, ...others] });
    return next.server(ctx).request(ctx, req);
  }

  close(ctx: Context, conn: Connection): Promise<void> {
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: DnsContextServerOptions): NetworkServiceServer {
  if (typeof opts?.configs !== 'function') throw new TypeError('dnscontext.newServer: configs is required');
  return new DnsContextServer(opts.configs);
}
