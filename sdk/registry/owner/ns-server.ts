// owner for network services: with identities, a network service belongs to the SPIFFE ID that
// registered it (over mTLS). Another identity may register it again only unchanged (payload and
// matches the same: endpoints register their service when they find none, and two may race), and
// may not unregister it: PERMISSION_DENIED naming the owner. Network services do not expire, so the
// owner holds the name until it unregisters it (or the registry restarts: the owners are kept in
// memory, the first registration after that takes the name). Without identities nothing is checked
// (README, threat model).
import type {
  NetworkService,
  NetworkServiceQuery,
  NetworkServiceResponse,
} from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { FindSink, NsRegistry } from '../../core/types.js';
import { peerIdentity } from '../../tools/spiffe/peer.js';
import { peerFrom } from '../../tools/unixpeer/index.js';
import { notOwner } from './server.js';

const following = (ctx: Context) =>
  next.registry<NetworkService, NetworkServiceQuery, NetworkServiceResponse>(ctx);

/** What a re-registration may not change without being the owner. */
const content = (ns: NetworkService) => JSON.stringify({ payload: ns.payload, matches: ns.matches });

class NsOwner implements NsRegistry {
  /** Service name → its owner's SPIFFE ID and content as registered. */
  private readonly holders = new Map<string, { identity: string; content: string }>();
  /** Service name → the call in progress: the NS chain has no begin, so two first registrations could race. */
  private readonly busy = new Map<string, Promise<unknown>>();

  /** Runs `fn` after the calls for `name` before it. */
  private serial<T>(name: string, fn: () => Promise<T>): Promise<T> {
    const run = (this.busy.get(name) ?? Promise.resolve()).then(fn, fn);
    const done = run.catch(() => undefined);
    this.busy.set(name, done);
    void done.then(() => {
      if (this.busy.get(name) === done) this.busy.delete(name);
    });
    return run;
  }

  register(ctx: Context, ns: NetworkService): Promise<NetworkService> {
    return this.serial(ns.name, () => this.doRegister(ctx, ns));
  }

  unregister(ctx: Context, ns: NetworkService): Promise<void> {
    return this.serial(ns.name, () => this.doUnregister(ctx, ns));
  }

  private async doRegister(ctx: Context, ns: NetworkService): Promise<NetworkService> {
    const h = this.holders.get(ns.name);
    const who = peerIdentity(ctx)?.id;
    if (h && peerFrom(ctx) && who !== h.identity) {
      if (content(ns) !== h.content) throw notOwner('network service', ns.name, h.identity, who);
      return following(ctx).register(ctx, ns); // unchanged: the owner stays
    }
    const resp = await following(ctx).register(ctx, ns);
    const identity = who ?? h?.identity;
    if (identity) this.holders.set(ns.name, { identity, content: content(ns) });
    return resp;
  }

  find(ctx: Context, query: NetworkServiceQuery, sink: FindSink<NetworkServiceResponse>) {
    return following(ctx).find(ctx, query, sink);
  }

  private async doUnregister(ctx: Context, ns: NetworkService): Promise<void> {
    const h = this.holders.get(ns.name);
    const who = peerIdentity(ctx)?.id;
    if (h && peerFrom(ctx) && who !== h.identity) throw notOwner('network service', ns.name, h.identity, who);
    await following(ctx).unregister(ctx, ns);
    this.holders.delete(ns.name);
  }
}

/** Only the identity that registered a network service may change or unregister it. */
export function newNsServer(): NsRegistry {
  return new NsOwner();
}
