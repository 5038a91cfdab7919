// metrics counts what this hop does with each connection for Prometheus (sdk/tools/metrics):
// Requests and Closes by network service and gRPC code, setup and refresh latency (the time to the
// answer, so every hop after this one is in it), and the connections held now. It sits in the
// endpoint prefix right after metadata: the per-connection flag that tells a setup from a refresh,
// and that keeps the live-connection gauge honest, lives there; and the Closes timeout and heal send
// through begin pass here too, so an expired connection leaves the gauge. With metrics off (no
// NSM_METRICS_LISTEN_ON) it only passes the call on.
import { status } from '@grpc/grpc-js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceRequest, NetworkServiceServer } from '../../core/types.js';
import { getErrorCode } from '../../errors/index.js';
import * as m from '../../tools/metrics/index.js';
import * as metadata from '../metadata/index.js';

/** Set while this hop holds the connection; the network service it was counted under. */
const HELD_KEY = Symbol('metrics-held');

export interface MetricsOptions {
  /** This hop's name (label `hop`). */
  name: string;
}

class MetricsServer implements NetworkServiceServer {
  constructor(private readonly hop: string) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    if (!m.metricsEnabled()) return next.server(ctx).request(ctx, req);
    const service = req.connection?.networkService ?? '';
    const held = metadata.load<string>(ctx, false, HELD_KEY);
    const kind = held === undefined ? 'setup' : 'refresh';
    const end = m.requestDuration.startTimer({ hop: this.hop, service, kind });
    try {
      const conn = await next.server(ctx).request(ctx, req);
      end();
      m.requests.inc({ hop: this.hop, service, kind, code: 'OK' });
      if (held === undefined) {
        metadata.store(ctx, false, HELD_KEY, service);
        m.connections.inc({ hop: this.hop, service });
      }
      return conn;
    } catch (e) {
      end();
      m.requests.inc({ hop: this.hop, service, kind, code: status[getErrorCode(e)] });
      throw e;
    }
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    if (!m.metricsEnabled()) return next.server(ctx).close(ctx, conn);
    const held = metadata.loadAndDelete<string>(ctx, false, HELD_KEY);
    const service = held ?? conn.networkService;
    if (held !== undefined) m.connections.dec({ hop: this.hop, service });
    try {
      await next.server(ctx).close(ctx, conn);
      m.closes.inc({ hop: this.hop, service, code: 'OK' });
    } catch (e) {
      m.closes.inc({ hop: this.hop, service, code: status[getErrorCode(e)] });
      throw e;
    }
  }
}

export function newServer(opts: MetricsOptions): NetworkServiceServer {
  if (!opts.name) throw new Error('metrics.newServer: a hop name is required (label "hop")');
  return new MetricsServer(opts.name);
}
