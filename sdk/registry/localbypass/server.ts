// localbypass (nsmgr, NSE registry) lets local endpoints and forwarders be reached directly while
// remote peers reach them through this nsmgr. On Register it remembers the endpoint's own URL
// (a unix socket only this node can use) and registers the nsmgr's public URL instead; on Find it
// puts the local URL back for entries that are ours. Two local endpoints may not share a name.
import type {
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { FindSink, NseRegistry } from '../../core/types.js';
import { alreadyExists } from '../../errors/index.js';

const nextNse = (ctx: Context) =>
  next.registry<NetworkServiceEndpoint, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx);

class LocalBypassServer implements NseRegistry {
  /** NSE name → its own (local) URL. */
  private readonly local = new Map<string, string>();

  constructor(private readonly nsmgrURL: string) {}

  async register(ctx: Context, nse: NetworkServiceEndpoint): Promise<NetworkServiceEndpoint> {
    const ownURL = nse.url;
    if (!ownURL || ownURL === this.nsmgrURL) return nextNse(ctx).register(ctx, nse);
    const known = this.local.get(nse.name);
    if (known && known !== ownURL) {
      throw alreadyExists(
        `network service endpoint "${nse.name}" is already registered on this node by another owner (url ${known})`,
      );
    }
    // Known before the registry answers, so watchers notified during Register see the local URL.
    this.local.set(nse.name, ownURL);
    try {
      const registered = await nextNse(ctx).register(ctx, { ...nse, url: this.nsmgrURL });
      return { ...registered, url: ownURL };
    } catch (e) {
      if (!known) this.local.delete(nse.name);
      throw e;
    }
  }

  find(
    ctx: Context,
    query: NetworkServiceEndpointQuery,
    sink: FindSink<NetworkServiceEndpointResponse>,
  ): Promise<void> {
    const template = query.networkServiceEndpoint;
    const wanted = template?.url;
    // A query for a local URL is a query for what this nsmgr registered on its behalf.
    let forwarded = query;
    if (wanted && wanted !== this.nsmgrURL && [...this.local.values()].includes(wanted)) {
      forwarded = { ...query, networkServiceEndpoint: { ...template!, url: this.nsmgrURL } };
    }
    return nextNse(ctx).find(ctx, forwarded, (r) => {
      const resp = r;
      const nse = resp.networkServiceEndpoint;
      const ownURL = nse ? this.local.get(nse.name) : undefined;
      if (forwarded !== query && ownURL !== wanted) return; // asked for one local URL only
      if (nse && ownURL && nse.url === this.nsmgrURL) {
        if (resp.deleted) this.local.delete(nse.name);
        sink({ ...resp, networkServiceEndpoint: { ...nse, url: ownURL } });
        return;
      }
      // Registered through us, but we do not know its socket (this nsmgr restarted and it has not
      // registered again yet): answering with our own URL would send requests back to ourselves.
      if (nse && !resp.deleted && nse.url === this.nsmgrURL) return;
      sink(resp);
    });
  }

  /** The socket URL local endpoint `name` registered with through this nsmgr, if it did. */
  localURL(name: string): string | undefined {
    return this.local.get(name);
  }

  async unregister(ctx: Context, nse: NetworkServiceEndpoint): Promise<void> {
    const ownURL = this.local.get(nse.name);
    const url = ownURL && (nse.url === ownURL || !nse.url) ? this.nsmgrURL : nse.url;
    await nextNse(ctx).unregister(ctx, { ...nse, url });
    if (ownURL && url === this.nsmgrURL) this.local.delete(nse.name);
  }
}

export function newServer(nsmgrURL: string): NseRegistry & { localURL(name: string): string | undefined } {
  if (!nsmgrURL) throw new Error('localbypass: the nsmgr URL is required');
  return new LocalBypassServer(nsmgrURL);
}
