// The forwarder's outgoing side, inside connect's client chain (upstream's mechanismtranslation
// plus the mechanism clients). Each hop negotiates its own mechanism: the first of the forwarder's
// mechanisms that can reach the next hop's URL is offered (KERNEL to a local endpoint on a unix
// socket, VXLAN from our tunnel address to a remote nsmgr). The incoming hop's mechanism is put back
// into the returned connection; the outgoing one is kept in metadata for xconnect and for refreshes
// (which must keep the same VNI and interface).
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { invalidArgument } from '../../errors/index.js';
import { clientURL } from '../clienturl/index.js';
import * as metadata from '../metadata/index.js';
import { OUTGOING_MECHANISM_KEY } from './common.js';
import type { XconnectMechanism } from './mechanism.js';

export interface XconnectClientOptions {
  /** The forwarder's mechanisms, asked in this order what to offer. */
  mechanisms: readonly Pick<XconnectMechanism, 'type' | 'offer'>[];
}

class XconnectClient implements NetworkServiceClient {
  constructor(private readonly opts: XconnectClientOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const incoming = conn.mechanism;
    const previous = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    const url = clientURL(ctx) ?? '';
    let preference: Mechanism | undefined;
    for (const m of this.opts.mechanisms) {
      preference = m.offer(url);
      if (preference) break;
    }
    if (!preference) throw invalidArgument(`none of this forwarder's mechanisms reaches ${url || 'no URL'}`);
    const outgoing: NetworkServiceRequest = {
      connection: { ...conn, mechanism: previous?.type === preference.type ? previous : undefined },
      mechanismPreferences: [preference],
    };
    const result = await next.client(ctx).request(ctx, outgoing);
    metadata.store(ctx, true, OUTGOING_MECHANISM_KEY, result.mechanism);
    return { ...result, mechanism: incoming };
  }

  async close(ctx: Context, conn: Connection): Promise<void> {
    const outgoing = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    await next.client(ctx).close(ctx, { ...conn, mechanism: outgoing ?? conn.mechanism });
  }
}

export function newClient(opts: XconnectClientOptions): NetworkServiceClient {
  if (!opts.mechanisms?.length) throw new TypeError('xconnect.newClient: at least one mechanism is required');
  return new XconnectClient(opts);
}
