// Registry Find queries are templates: the non-empty fields of the query must match the stored entry
// (upstream sdk/pkg/tools/matchutils MatchNetworkServices / MatchNetworkServiceEndpoints).
import type {
  Destination,
  Match,
  NetworkService,
  NetworkServiceEndpoint,
} from '../../../api/gen/registry/registry.js';

type Labels = Record<string, string>;

function labelsEqual(a: Labels | undefined, b: Labels | undefined): boolean {
  const ka = Object.keys(a ?? {});
  const kb = Object.keys(b ?? {});
  return ka.length === kb.length && ka.every((k) => Object.hasOwn(b ?? {}, k) && a![k] === b![k]);
}

function destinationEqual(a: Destination, b: Destination): boolean {
  return labelsEqual(a.destinationSelector, b.destinationSelector) && (a.weight ?? 0) === (b.weight ?? 0);
}

/** proto.Equal on Match: an unset metadata differs from a set but empty one, as in protobuf. */
function matchEqual(a: Match, b: Match): boolean {
  const ra = a.routes ?? [];
  const rb = b.routes ?? [];
  return (
    labelsEqual(a.sourceSelector, b.sourceSelector) &&
    ra.length === rb.length &&
    ra.every((r, i) => destinationEqual(r, rb[i]!)) &&
    Boolean(a.fallthrough) === Boolean(b.fallthrough) &&
    (a.metadata === undefined
      ? b.metadata === undefined
      : b.metadata !== undefined && labelsEqual(a.metadata.labels, b.metadata.labels))
  );
}

/**
 * True when `ns` matches the query template: name equal (exact, as upstream now does; it used to be
 * a substring match), payload equal, and matches deep-equal when the template has any.
 * Empty template fields match anything; path_ids are ignored.
 */
export function matchNsTemplate(template: Partial<NetworkService>, ns: NetworkService): boolean {
  const tm = template.matches ?? [];
  const nm = ns.matches ?? [];
  return (
    (!template.name || template.name === ns.name) &&
    (!template.payload || template.payload === ns.payload) &&
    (tm.length === 0 || (tm.length === nm.length && tm.every((m, i) => matchEqual(m, nm[i]!))))
  );
}

function seconds(d: Date | undefined): number {
  return d === undefined ? 0 : Math.floor(d.getTime() / 1000);
}

/**
 * True when `nse` matches the query template (empty template fields match anything):
 * - name: equal (exact);
 * - url: the template is a substring of the entry's url;
 * - network_service_names: every template name is among the entry's;
 * - network_service_labels: every template service is in the entry, with every template label equal;
 * - expiration_time: equal to the second, when the template sets it (as upstream; an entry without
 *   one counts as 0 seconds);
 * - initial_registration_time and path_ids: ignored.
 */
export function matchNseTemplate(
  template: Partial<NetworkServiceEndpoint>,
  nse: NetworkServiceEndpoint,
): boolean {
  if (template.name && template.name !== nse.name) return false;
  if (template.url && !(nse.url ?? '').includes(template.url)) return false;
  if (
    template.expirationTime !== undefined &&
    seconds(template.expirationTime) !== seconds(nse.expirationTime)
  ) {
    return false;
  }
  const names = new Set(nse.networkServiceNames ?? []);
  if (!(template.networkServiceNames ?? []).every((n) => names.has(n))) return false;
  for (const [service, wanted] of Object.entries(template.networkServiceLabels ?? {})) {
    const have = nse.networkServiceLabels ?? {};
    if (!Object.hasOwn(have, service)) return false;
    const labels = have[service]?.labels ?? {};
    for (const [key, value] of Object.entries(wanted?.labels ?? {})) {
      if (!Object.hasOwn(labels, key) || labels[key] !== value) return false;
    }
  }
  return true;
}
