// owner keeps one endpoint name to one owner. With identities, the owner is the SPIFFE ID of the
// caller that registered it (over mTLS): only that identity may register the name again (refresh, or
// a change of URL or content) or unregister it; any other caller gets PERMISSION_DENIED naming the
// owner. An nsmgr registers its local endpoints under its own identity (the registry trusts it for
// them; socketowner in the nsmgr keeps its local endpoints apart). Without identities, the owner is
// the endpoint's URL: a Register for a
// name that is held (registered and not expired) under a different URL is refused with
// ALREADY_EXISTS; the same URL again is a refresh. An Unregister that names a different URL is
// refused with PERMISSION_DENIED (an empty URL is accepted). Over tcp, an endpoint held under
// tcp://IP:PORT (an nsmgr's URL, as it registers its local endpoints) may be unregistered only by
// a caller connecting from IP: the registering connection's peer, as near as insecure mode gets to
// an identity. Once the holder unregisters or its lease
// passes, anyone may take the name. It sits after begin, so calls for one name are serialised, and
// before expire, so it learns each lease's end from the Register response and sees expiries as
// Unregisters.

import { isIP } from 'node:net';
import { status } from '@grpc/grpc-js';
import type {
  NetworkServiceEndpoint,
  NetworkServiceEndpointQuery,
  NetworkServiceEndpointResponse,
} from '../../../api/gen/registry/registry.js';
import { clock } from '../../core/clock.js';
import type { Context } from '../../core/context.js';
import * as next from '../../core/next.js';
import type { NseRegistry } from '../../core/types.js';
import { alreadyExists, NsmError } from '../../errors/index.js';
import { peerIdentity } from '../../tools/spiffe/peer.js';
import { peerFrom } from '../../tools/unixpeer/index.js';

/** The IP a grpc-js peer string ("1.2.3.4:5", "::ffff:1.2.3.4:5", "[::1]:5") names. */
export function peerIP(address: string): string {
  const a = address.replace(/^\[(.*)\](:\d+)?$/, '$1');
  const ip = a === address ? address.slice(0, Math.max(0, address.lastIndexOf(':'))) : a;
  return ip.replace(/^::ffff:(\d+\.\d+\.\d+\.\d+)$/i, '$1');
}

/** The host of a tcp:// URL when it is an IP literal, else undefined. */
export function urlIP(url: string): string | undefined {
  const m = /^tcp:\/\/\[?([^\]/]+?)\]?:\d+$/.exec(url);
  return m && isIP(m[1]) ? m[1] : undefined;
}

interface Holder {
  url: string;
  /** The SPIFFE ID that registered it over mTLS; undefined without identities. */
  identity?: string;
  /** Epoch ms when the holder's lease ends; undefined when the chain sets none. */
  expiresAt?: number;
}

type Nse = NetworkServiceEndpoint;

/** PERMISSION_DENIED naming the owner and the caller. */
export function notOwner(kind: string, name: string, owner: string, caller: string | undefined): NsmError {
  return new NsmError(
    status.PERMISSION_DENIED,
    `${kind} "${name.slice(0, 256)}" is registered by ${owner}; ${caller ?? 'a caller without a SPIFFE ID'} may not change or unregister it`,
  );
}
const following = (ctx: Context) =>
  next.registry<Nse, NetworkServiceEndpointQuery, NetworkServiceEndpointResponse>(ctx);

class Owner implements NseRegistry {
  private readonly holders = new Map<string, Holder>();

  /** The current holder of `name`, unless its lease has passed. */
  private holder(ctx: Context, name: string): Holder | undefined {
    const h = this.holders.get(name);
    if (h?.expiresAt !== undefined && h.expiresAt <= clock(ctx).now()) {
      this.holders.delete(name);
      return undefined;
    }
    return h;
  }

  async register(ctx: Context, nse: Nse): Promise<Nse> {
    const h = this.holder(ctx, nse.name);
    const who = peerIdentity(ctx)?.id;
    if (h?.identity) {
      if (peerFrom(ctx) && who !== h.identity)
        throw notOwner('network service endpoint', nse.name, h.identity, who);
    } else if (h && h.url !== nse.url) {
      throw alreadyExists(
        `network service endpoint "${nse.name}" is already registered by another owner (url ${h.url})`,
      );
    }
    const resp = await following(ctx).register(ctx, nse);
    // The caller's URL, not the response's: later elements may rewrite it (localbypass).
    this.holders.set(nse.name, {
      url: nse.url,
      identity: who ?? h?.identity, // an in-process call (tests) keeps the owner
      expiresAt: resp.expirationTime?.getTime(),
    });
    return resp;
  }

  find(ctx: Context, query: NetworkServiceEndpointQuery, sink: (r: NetworkServiceEndpointResponse) => void) {
    return following(ctx).find(ctx, query, sink);
  }

  async unregister(ctx: Context, nse: Nse): Promise<void> {
    const h = this.holder(ctx, nse.name);
    if (h?.identity) {
      const who = peerIdentity(ctx)?.id;
      if (peerFrom(ctx) && who !== h.identity)
        throw notOwner('network service endpoint', nse.name, h.identity, who);
      await following(ctx).unregister(ctx, nse);
      this.holders.delete(nse.name);
      return;
    }
    // Without identities, a holder registered as tcp://IP:PORT (an nsmgr) is one that calls from IP:
    // nobody else may drop its endpoint, whatever URL they send.
    const peer = peerFrom(ctx);
    const holderIP = h ? urlIP(h.url) : undefined;
    if (h && holderIP && peer?.transport === 'tcp' && peerIP(peer.address) !== holderIP) {
      throw new NsmError(
        status.PERMISSION_DENIED,
        `network service endpoint "${nse.name}" is registered by ${h.url}; ${peerIP(peer.address)} may not unregister it`,
      );
    }
    if (h && nse.url && h.url !== nse.url) {
      throw new NsmError(
        status.PERMISSION_DENIED,
        `network service endpoint "${nse.name}" is registered by another owner (url ${h.url}), not by ${nse.url}`,
      );
    }
    await following(ctx).unregister(ctx, nse);
    this.holders.delete(nse.name);
  }
}

/** Refuses to let a second owner (another URL) take or drop an endpoint name. */
export function newNseServer(): NseRegistry {
  return new Owner();
}
