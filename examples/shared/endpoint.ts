// What the example endpoints (icmp-responder, passthrough/firewall, vL3) do alike: where they listen
// by default and how they register themselves.
import { dirname } from 'node:path';
import { NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';
import type { NseRegistry } from '../../sdk/core/types.js';
import { keepRegistered, type Registration } from '../../sdk/registry/refresh/index.js';

/** A socket beside the nsmgr's (the directory every pod of a node shares), or in /tmp when it is TCP. */
export function defaultListenOn(name: string, connectTo: string): string {
  const dir = connectTo.startsWith('unix://') ? dirname(connectTo.slice('unix://'.length)) : '/tmp';
  return `unix://${dir}/nse-${name.replace(/[^A-Za-z0-9_.-]/g, '_')}.sock`;
}

/**
 * Registers the endpoint at `url` for its services, each with the same labels, and keeps it
 * registered (watching its own entry, so a restarted registry gets it back at once).
 */
export function registerEndpoint(
  nseRegistry: NseRegistry,
  nse: { name: string; serviceNames: string[]; labels: Record<string, string>; url: string },
): Promise<Registration> {
  return keepRegistered(
    nseRegistry,
    NetworkServiceEndpoint.fromPartial({
      name: nse.name,
      networkServiceNames: nse.serviceNames,
      networkServiceLabels: Object.fromEntries(nse.serviceNames.map((s) => [s, { labels: nse.labels }])),
      url: nse.url,
    }),
    { watch: true },
  );
}
