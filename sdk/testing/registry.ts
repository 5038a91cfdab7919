// A fake Finder for tests of elements that discover endpoints and forwarders.
import type { NetworkService, NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import type { Finder } from '../networkservice/discover/common.js';

export interface FakeFinder extends Finder {
  services: NetworkService[];
  endpointsList: NetworkServiceEndpoint[];
  /** Every template passed to `endpoints`, in order. */
  readonly endpointQueries: Partial<NetworkServiceEndpoint>[];
}

/** A Finder over fixed lists: endpoints match by name, url and network service names. */
export function fakeFinder(
  services: NetworkService[] = [],
  endpoints: NetworkServiceEndpoint[] = [],
): FakeFinder {
  const endpointQueries: Partial<NetworkServiceEndpoint>[] = [];
  const finder: FakeFinder = {
    services,
    endpointsList: endpoints,
    endpointQueries,
    async networkService(_ctx, name) {
      return structuredClone(finder.services.find((s) => s.name === name));
    },
    async endpoints(_ctx, template) {
      endpointQueries.push(structuredClone(template));
      return structuredClone(
        finder.endpointsList.filter(
          (e) =>
            (!template.name || e.name === template.name) &&
            (!template.url || e.url === template.url) &&
            (template.networkServiceNames ?? []).every((n) => e.networkServiceNames.includes(n)),
        ),
      );
    },
  };
  return finder;
}
