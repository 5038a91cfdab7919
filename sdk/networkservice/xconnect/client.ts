// The forwarder's outgoing side, inside connect's client chain (upstream's mechanismtranslation
// plus the mechanism clients). Each hop negotiates its own mechanism: towards a local endpoint
// (unix socket) we offer KERNEL, towards a remote nsmgr (tcp) VXLAN from our tunnel address. The
// incoming hop's mechanism is put back into the returned connection; the outgoing one is kept in
// metadata for xconnect and for refreshes (which must keep the same VNI and interface).
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { Connection, NetworkServiceClient, NetworkServiceRequest } from '../../core/types.js';
import { clientURL } from '../clienturl/index.js';
import {
  CLS_LOCAL,
  CLS_REMOTE,
  KERNEL,
  mechanism,
  PARAM_SRC_IP,
  PARAM_SRC_PORT,
  VXLAN,
} from '../mechanisms/common.js';
import * as metadata from '../metadata/index.js';
import { OUTGOING_MECHANISM_KEY } from './common.js';

export interface XconnectClientOptions {
  tunnelIP: string;
  vxlanPort: number;
}

class XconnectClient implements NetworkServiceClient {
  constructor(private readonly opts: XconnectClientOptions) {}

  async request(ctx: Context, req: NetworkServiceRequest): Promise<Connection> {
    const conn = req.connection!;
    const incoming = conn.mechanism;
    const previous = metadata.load<Mechanism>(ctx, true, OUTGOING_MECHANISM_KEY);
    const url = clientURL(ctx) ?? '';
    const remote = !url.startsWith('unix:');
    const preference = remote
      ? mechanism(CLS_REMOTE, VXLAN, {
          [PARAM_SRC_IP]: this.opts.tunnelIP,
          [PARAM_SRC_PORT]: String(this.opts.vxlanPort),
        })
      : mechanism(CLS_LOCAL, KERNEL, {});
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
  return new XconnectClient(opts);
}
