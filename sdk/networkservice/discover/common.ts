// Finding network services and endpoints through a registry chain (local nsmgr or the registry).
import { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import type { Context } from '../../core/context.js';
import type { NseRegistry, NsRegistry } from '../../core/types.js';

export interface Finder {
  networkService(ctx: Context, name: string): Promise<NetworkService | undefined>;
  endpoints(ctx: Context, template: Partial<NetworkServiceEndpoint>): Promise<NetworkServiceEndpoint[]>;
}


export function newFinder(ns: NsRegistry, nse: NseRegistry): Finder {
  return {
    async networkService(ctx, name) {
      const found: NetworkService[] = [];
      await ns.find(
        ctx,
        { networkService: NetworkService.fromPartial({ name }), watch: false },
        (r) => {
          if (r.networkService && !r.deleted && r.networkService.name === name) found.push(r.networkService);
        },
      );
      return found[0];
    },
    async endpoints(ctx, template) {
      const found: NetworkServiceEndpoint[] = [];
      await nse.find(ctx, { networkServiceEndpoint: NetworkServiceEndpoint.fromPartial(template), watch: false }, (r) => {
        if (r.networkServiceEndpoint && !r.deleted) found.push(r.networkServiceEndpoint);
      });
      const now = Date.now();
      return found.filter((e) => !e.expirationTime || e.expirationTime.getTime() > now);
    },
  };
}
