// What discover hands to the element that selects an endpoint (roundrobin): the candidates, in the
// context of one request; and what that element hands back: its choice, in the connection's
// metadata, so a refresh of the same connection needs no registry. Both live here, in discover,
// so roundrobin depends on discover and never the other way round (upstream discover/context.go).
import type { NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { type Context, value, withValue } from '../../core/context.js';
import * as metadata from '../metadata/index.js';

const CANDIDATES_KEY = Symbol('discover-candidates');
const WEIGHTS_KEY = Symbol('discover-weights');
const SELECTED_KEY = Symbol('discover-selected');

/** The candidates for this request, and the weight of each (by name; 0 or absent: the route gave none). */
export function withCandidates(
  ctx: Context,
  nses: NetworkServiceEndpoint[],
  weights?: ReadonlyMap<string, number>,
): Context {
  const withNses = withValue(ctx, CANDIDATES_KEY, nses);
  return weights ? withValue(withNses, WEIGHTS_KEY, weights) : withNses;
}

/** The route weights of the candidates (see withCandidates). */
export function candidateWeights(ctx: Context): ReadonlyMap<string, number> | undefined {
  return value<ReadonlyMap<string, number>>(ctx, WEIGHTS_KEY);
}

export function candidates(ctx: Context): NetworkServiceEndpoint[] | undefined {
  return value<NetworkServiceEndpoint[]>(ctx, CANDIDATES_KEY);
}

export interface SelectedEndpoint {
  name: string;
  url: string;
}

/** Records the endpoint this connection uses (after a successful Request through it). */
export function storeSelected(ctx: Context, selected: SelectedEndpoint): void {
  metadata.store<SelectedEndpoint>(ctx, false, SELECTED_KEY, selected);
}

/** The endpoint this connection uses (set after the first successful Request). */
export function selectedEndpoint(ctx: Context): SelectedEndpoint | undefined {
  return metadata.load<SelectedEndpoint>(ctx, false, SELECTED_KEY);
}

/** Forgets and returns the endpoint this connection used (on Close). */
export function loadAndDeleteSelected(ctx: Context): SelectedEndpoint | undefined {
  return metadata.loadAndDelete<SelectedEndpoint>(ctx, false, SELECTED_KEY);
}
