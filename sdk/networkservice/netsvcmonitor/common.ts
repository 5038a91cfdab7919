// The decision of netsvcmonitor as a pure function, so each case is tested without a registry.
import type { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { selectEndpoints } from '../../tools/matchutils/index.js';

/** What the nsmgr remembers of a connection it carries. */
export interface Tracked {
  id: string;
  networkService: string;
  /** The endpoint the connection goes to (the forwarder's choice, in the response). */
  endpoint: string;
  /** The request's labels as the matches see them (the client's, plus nodeName and clientName). */
  labels: Record<string, string>;
}

/**
 * Whether `t` must move to another endpoint, given the registry's current view:
 *  - true when the service and the endpoint are both known and the service's matches no longer
 *    select the endpoint for the connection's labels (the service was re-applied, or the endpoint
 *    registered again with other labels);
 *  - false when they still select it, and when the view lacks the service or the endpoint: a missing
 *    entry is not a mismatch (a registry restarting, an endpoint dying: heal's business, not ours).
 */
export function mustMove(
  t: Tracked,
  ns: NetworkService | undefined,
  nses: readonly NetworkServiceEndpoint[],
  nowMs: number,
): boolean {
  if (!ns) return false;
  const live = nses.filter(
    (e) =>
      e.networkServiceNames.includes(t.networkService) &&
      (!e.expirationTime || e.expirationTime.getTime() > nowMs),
  );
  if (!live.some((e) => e.name === t.endpoint)) return false;
  const { candidates } = selectEndpoints(ns, live, t.labels);
  return !candidates.some((c) => c.nse.name === t.endpoint);
}
