// stats puts the traffic counters of a connection's interfaces on the forwarder's path segment, in
// its `metrics` map, with upstream's keys (sdk-vpp stats): `server_` for the interface on the
// incoming side (towards the client), `client_` for the outgoing side (towards the endpoint), each
// with rx_bytes, tx_bytes, rx_packets, tx_packets and drops. They are read on every refresh, so the
// map a refresh answers with (and MonitorConnections shows) is at most one refresh period (plus the
// dataplane's 1 s of sharing) old. The dataplane reads a namespace's links together and shares that
// read (sdk/kernel/link-stats-cache.ts): the endpoint's namespace, with a link per connection, costs
// one `ip` process a second at most, a client pod one per refresh of its connection. Not on the first
// Request: the interfaces were made by it and have carried nothing yet, and a read would add a
// process to every setup. It sits right before xconnect: on the way back xconnect has made (or kept)
// the links. Only with metrics on (NSM_METRICS_LISTEN_ON).
//
//   client pod                      endpoint pod
//   [nsm-1] ── server_* counters    [nsm-1] ── client_* counters   (veth ends, or the VXLAN in the pod)
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorMessage } from '../../errors/index.js';
import type { Dataplane, LinkStats, NetnsRef } from '../../kernel/index.js';
import { logger } from '../../tools/log.js';
import { metricsEnabled } from '../../tools/metrics/index.js';
import * as metadata from '../metadata/index.js';
import { programmedLinks } from '../xconnect/index.js';

const log = logger('stats');
/** Set once the connection's first Request succeeded here: later ones are refreshes. */
const SET_UP_KEY = Symbol('stats-set-up');

/** The path-segment keys for one interface's counters (upstream's names). */
export function statsMetrics(prefix: 'server' | 'client', s: LinkStats): Record<string, string> {
  return {
    [`${prefix}_rx_bytes`]: String(s.rxBytes),
    [`${prefix}_tx_bytes`]: String(s.txBytes),
    [`${prefix}_rx_packets`]: String(s.rxPackets),
    [`${prefix}_tx_packets`]: String(s.txPackets),
    [`${prefix}_drops`]: String(s.rxDropped + s.txDropped),
  };
}

/** Which side a link is on, from the alias xconnect gave it (`…:client` is in the client's pod). */
function prefixOf(alias: string | undefined): 'server' | 'client' | undefined {
  if (alias?.endsWith(':client')) return 'server';
  if (alias?.endsWith(':endpoint')) return 'client';
  return undefined;
}

export interface StatsOptions {
  /** Reads the counters. */
  dataplane: Pick<Dataplane, 'linkStats'>;
  /** The connection's links (default: what xconnect made, `programmedLinks`). */
  links?: (ctx: Context) => readonly { netns: NetnsRef; name: string }[];
}

class StatsServer implements NetworkServiceServer {
  constructor(
    private readonly dataplane: Pick<Dataplane, 'linkStats'>,
    private readonly links: NonNullable<StatsOptions['links']>,
  ) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = await next.server(ctx).request(ctx, req);
    if (!metricsEnabled()) return conn;
    if (!metadata.load<boolean>(ctx, false, SET_UP_KEY)) {
      metadata.store(ctx, false, SET_UP_KEY, true);
      return conn;
    }
    const segment = conn.path?.pathSegments[conn.path.index];
    if (!segment) return conn;
    const read = await Promise.all(
      this.links(ctx).map((link) =>
        this.dataplane.linkStats(link.netns, link.name).catch((e: unknown) => {
          // Counters are a report, not part of the connection: a link that vanished is heal's business.
          log.debug({ link: link.name, error: getErrorMessage(e) }, 'no counters for a link');
          return undefined;
        }),
      ),
    );
    for (const s of read) {
      const prefix = prefixOf(s?.alias);
      if (s && prefix) segment.metrics = { ...segment.metrics, ...statsMetrics(prefix, s) };
    }
    return conn;
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    metadata.loadAndDelete(ctx, false, SET_UP_KEY);
    return next.server(ctx).close(ctx, conn);
  }
}

export function newServer(opts: StatsOptions): NetworkServiceServer {
  if (!opts?.dataplane) throw new Error('stats.newServer: a dataplane is required');
  return new StatsServer(opts.dataplane, opts.links ?? programmedLinks);
}
