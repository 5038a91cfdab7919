// Pure checks for registry input. Each returns the first problem as "<field>: <what is wrong>",
// or undefined when the item is acceptable.
import type { NetworkService, NetworkServiceEndpoint } from '../../../api/gen/registry/registry.js';
import { parseNsmUrl } from '../../tools/config/url.js';

/** DNS subdomain length; names end up in Kubernetes object names and interface metadata. */
export const MAX_NAME_LEN = 253;
export const MAX_URL_LEN = 1024;
export const MAX_LABEL_LEN = 256;
/** Most labels per map and most service names per endpoint. */
export const MAX_ITEMS = 256;
export const PAYLOADS = ['', 'ETHERNET', 'IP'] as const;

// biome-ignore lint/suspicious/noControlCharactersInRegex: refusing control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

function checkName(field: string, name: string | undefined): string | undefined {
  if (!name) return `${field}: is required`;
  if (name.length > MAX_NAME_LEN) return `${field}: longer than ${MAX_NAME_LEN} characters`;
  if (CONTROL.test(name) || /\s/.test(name)) return `${field}: contains whitespace or control characters`;
  return undefined;
}

function checkLabels(field: string, labels: Record<string, string> | undefined): string | undefined {
  const entries = Object.entries(labels ?? {});
  if (entries.length > MAX_ITEMS) return `${field}: more than ${MAX_ITEMS} labels`;
  for (const [k, v] of entries) {
    if (k === '') return `${field}: empty label key`;
    if (k.length > MAX_LABEL_LEN) return `${field}: label key longer than ${MAX_LABEL_LEN} characters`;
    if ((v ?? '').length > MAX_LABEL_LEN)
      return `${field}["${k}"]: label value longer than ${MAX_LABEL_LEN} characters`;
  }
  return undefined;
}

export function checkUrl(field: string, url: string | undefined): string | undefined {
  if (!url) return `${field}: is required`;
  if (url.length > MAX_URL_LEN) return `${field}: longer than ${MAX_URL_LEN} characters`;
  const r = parseNsmUrl(url);
  return r.ok ? undefined : `${field}: ${r.problem}`;
}

export function checkNseRegister(nse: NetworkServiceEndpoint): string | undefined {
  const names = nse.networkServiceNames ?? [];
  const perService = Object.entries(nse.networkServiceLabels ?? {});
  if (names.length > MAX_ITEMS) return `network_service_names: more than ${MAX_ITEMS} names`;
  if (perService.length > MAX_ITEMS) return `network_service_labels: more than ${MAX_ITEMS} services`;
  return (
    checkName('name', nse.name) ??
    checkUrl('url', nse.url) ??
    names.map((n, i) => checkName(`network_service_names[${i}]`, n)).find(Boolean) ??
    perService
      .map(
        ([svc, l]) =>
          checkName(`network_service_labels key "${svc}"`, svc) ??
          checkLabels(`network_service_labels["${svc}"]`, l?.labels),
      )
      .find(Boolean)
  );
}

export function checkNsRegister(ns: NetworkService): string | undefined {
  const nameProblem = checkName('name', ns.name);
  if (nameProblem) return nameProblem;
  if (!(PAYLOADS as readonly string[]).includes(ns.payload ?? '')) {
    return `payload: must be ETHERNET, IP or empty, got "${ns.payload}"`;
  }
  const matches = ns.matches ?? [];
  if (matches.length > MAX_ITEMS) return `matches: more than ${MAX_ITEMS} matches`;
  for (const [i, m] of matches.entries()) {
    const routes = m.routes ?? [];
    if (routes.length > MAX_ITEMS) return `matches[${i}].routes: more than ${MAX_ITEMS} routes`;
    const p =
      checkLabels(`matches[${i}].source_selector`, m.sourceSelector) ??
      checkLabels(`matches[${i}].metadata.labels`, m.metadata?.labels) ??
      routes
        .map((r, j) => checkLabels(`matches[${i}].routes[${j}].destination_selector`, r.destinationSelector))
        .find(Boolean);
    if (p) return p;
  }
  return undefined;
}

/** Unregister needs only a usable name. */
export function checkUnregister(item: { name: string }): string | undefined {
  return checkName('name', item.name);
}
