// Selecting endpoints and forwarders by a NetworkService's matches (upstream
// sdk/pkg/tools/matchutils MatchEndpoint, and matchForwarders in discoverforwarder/server.go).
import type { Match, NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { renderLabelTemplate } from './template.js';

export type Labels = Record<string, string>;

/** Forwarders register their labels under this service name. */
export const FORWARDER_SERVICE_NAME = 'forwarder';
/** What a match without metadata labels asks of a forwarder (upstream forwarders default NSM_LABELS to p2p:true). */
export const DEFAULT_FORWARDER_LABELS: Readonly<Labels> = Object.freeze({ p2p: 'true' });

function own<T>(record: Record<string, T> | undefined, key: string): T | undefined {
  return record !== undefined && Object.hasOwn(record, key) ? record[key] : undefined;
}

/**
 * True when every entry of `selector` is in `labels`. A selector value that differs literally is
 * rendered as a template over `values` (default: `labels`) and compared again.
 *
 * Kept from upstream on purpose: `labels` with fewer keys than `selector` never match, and a missing
 * key reads as "" (so { k: "" } matches labels that lack k, given enough other keys).
 */
export function isSubset(labels: Labels | undefined, selector: Labels | undefined, values?: Labels): boolean {
  const have = labels ?? {};
  const want = selector ?? {};
  const entries = Object.entries(want);
  if (Object.keys(have).length < entries.length) return false;
  for (const [key, value] of entries) {
    const actual = own(have, key) ?? '';
    if (actual !== value && actual !== renderLabelTemplate(value, values ?? have)) return false;
  }
  return true;
}

function sourceMatches(match: Match, requestLabels: Labels): boolean {
  return isSubset(requestLabels, match.sourceSelector, requestLabels);
}

/** An endpoint a request may use, with the weight of the route that selected it (0: none given). */
export interface WeightedEndpoint {
  nse: NetworkServiceEndpoint;
  weight: number;
}

/** What matchEndpoints decided: the candidates, and the match that chose them (none: no match applied). */
export interface EndpointSelection {
  candidates: WeightedEndpoint[];
  match?: Match;
}

/**
 * The endpoints a request may use, in upstream MatchEndpoint order:
 * - no NetworkService or no matches: every endpoint;
 * - else the first match whose source_selector is a subset of the request labels decides: candidates
 *   are the endpoints whose labels for this service (network_service_labels[ns.name]) satisfy some
 *   route's destination_selector, route by route in order;
 * - no candidates and fallthrough: try the next match; no candidates and a match with metadata but no
 *   routes (a forwarder-selection-only match): every endpoint; otherwise none;
 * - no match applies: none.
 * Unlike upstream, an endpoint satisfying several routes is listed once (at its first route, whose
 * weight it carries: upstream carries routes[].weight and ignores it, roundrobin uses it).
 */
export function selectEndpoints(
  ns: NetworkService | undefined,
  nses: readonly NetworkServiceEndpoint[],
  requestLabels: Labels,
): EndpointSelection {
  const all = () => nses.map((nse) => ({ nse, weight: 0 }));
  const matches = ns?.matches ?? [];
  if (ns === undefined || matches.length === 0) return { candidates: all() };
  let decided: Match | undefined;
  for (const match of matches) {
    if (!sourceMatches(match, requestLabels)) continue;
    decided = match;
    const candidates = new Map<NetworkServiceEndpoint, number>();
    for (const route of match.routes ?? []) {
      for (const nse of nses) {
        const labels = own(nse.networkServiceLabels, ns.name)?.labels;
        if (!candidates.has(nse) && isSubset(labels, route.destinationSelector, requestLabels))
          candidates.set(nse, route.weight ?? 0);
      }
    }
    if (candidates.size === 0 && match.fallthrough) continue;
    if (candidates.size === 0 && match.metadata !== undefined && (match.routes ?? []).length === 0)
      return { candidates: all(), match };
    return { candidates: [...candidates].map(([nse, weight]) => ({ nse, weight })), match };
  }
  return { candidates: [], match: decided };
}

/** selectEndpoints without the weights (see there). */
export function matchEndpoints(
  ns: NetworkService | undefined,
  nses: readonly NetworkServiceEndpoint[],
  requestLabels: Labels,
): NetworkServiceEndpoint[] {
  return selectEndpoints(ns, nses, requestLabels).candidates.map((c) => c.nse);
}

export interface MatchForwardersOptions {
  /** Service name forwarders register their labels under. Default "forwarder". */
  serviceName?: string;
}

/**
 * The forwarders a request may use (upstream discoverforwarder matchForwarders):
 * - no NetworkService or no matches: every forwarder;
 * - else, for each match whose source_selector is a subset of the request labels, in order: the
 *   forwarders whose labels (network_service_labels["forwarder"]) contain the match's metadata labels,
 *   or { p2p: "true" } when the match has none. Values may be templates over the request labels.
 *   No candidates and fallthrough: next match; otherwise that match decides;
 * - no match applies: none.
 * Forwarders without labels under the forwarder service name never match.
 */
export function matchForwarders(
  ns: NetworkService | undefined,
  forwarders: readonly NetworkServiceEndpoint[],
  requestLabels: Labels,
  opts: MatchForwardersOptions = {},
): NetworkServiceEndpoint[] {
  const serviceName = opts.serviceName ?? FORWARDER_SERVICE_NAME;
  const matches = ns?.matches ?? [];
  if (matches.length === 0) return [...forwarders];
  for (const match of matches) {
    if (!sourceMatches(match, requestLabels)) continue;
    const metadataLabels = match.metadata?.labels;
    const wanted =
      metadataLabels === undefined || Object.keys(metadataLabels).length === 0
        ? DEFAULT_FORWARDER_LABELS
        : metadataLabels;
    const result = forwarders.filter((fwd) => {
      const labels = own(fwd.networkServiceLabels, serviceName);
      return labels !== undefined && isSubset(labels.labels, wanted, requestLabels);
    });
    if (result.length === 0 && match.fallthrough) continue;
    return result;
  }
  return [];
}
