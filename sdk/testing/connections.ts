// Builders for requests and registry entries with every proto field present, so a test writes
// only the fields it cares about.
import { Connection, type Mechanism } from '../../api/gen/networkservice/connection.js';
import { NetworkServiceRequest } from '../../api/gen/networkservice/networkservice.js';
import { NetworkService, NetworkServiceEndpoint } from '../../api/gen/registry/registry.js';

export type ConnectionPatch = Parameters<typeof Connection.fromPartial>[0];

export function connection(patch: ConnectionPatch = {}): Connection {
  return Connection.fromPartial({ networkService: 'icmp', ...patch });
}

export function request(
  patch: ConnectionPatch = {},
  mechanismPreferences: Mechanism[] = [],
): NetworkServiceRequest {
  return NetworkServiceRequest.fromPartial({ connection: connection(patch), mechanismPreferences });
}

/** A path whose current segment (index) belongs to the caller, and a connection with that segment's id. */
export function pathOf(names: string[], index = names.length - 1): ConnectionPatch {
  const pathSegments = names.map((name, i) => ({ name, id: `${name}-id-${i}` }));
  return { id: pathSegments[index]?.id ?? '', path: { index, pathSegments } };
}

export function nse(name: string, patch: Parameters<typeof NetworkServiceEndpoint.fromPartial>[0] = {}) {
  return NetworkServiceEndpoint.fromPartial({ name, url: `unix:///var/lib/nsm/${name}.sock`, ...patch });
}

export function ns(name: string, patch: Parameters<typeof NetworkService.fromPartial>[0] = {}) {
  return NetworkService.fromPartial({ name, ...patch });
}
