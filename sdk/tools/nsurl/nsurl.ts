// NSURL: how a workload asks for a network service, in the pod annotation `networkservicemesh.io` and in
// env NSM_NETWORK_SERVICES (upstream sdk/pkg/tools/nsurl):
//
//   <mechanism>://<network-service>[@<domain>][/<ifname>][?<label>=<value>&...]
//   kernel://kernel2kernel/nsm-1
//   kernel://autoscale-istio-proxy@my.cluster2/nsm-1?app=ratings
//
// - mechanism: the scheme upper-cased ("KERNEL"), class LOCAL;
// - network service: the host, or "service@domain" kept whole for interdomain;
// - interface name: the last path segment, also put into mechanism parameter `name`;
// - labels: the query, repeated keys joined with "," (a=1&a=2 gives a: "1,2").
//
// Where upstream (Go's net/url) would accept something odd and carry on, we reject it with
// INVALID_ARGUMENT naming the URL: a port or password in the authority, characters outside
// [A-Za-z0-9._-] in names, interface names over 15 bytes (IFNAMSIZ), empty label keys.
// A fragment (#...) is ignored, as upstream does.
import type { Mechanism } from '../../../api/gen/networkservice/connection.js';
import { invalidArgument, type NsmError } from '../../errors/index.js';

export interface Nsurl {
  /** "kernel2kernel", or "autoscale-istio-proxy@my.cluster2" for interdomain. */
  networkService: string;
  /** { cls: 'LOCAL', type: 'KERNEL', parameters: { name: 'nsm-1' } }; no `name` without an interface name. */
  mechanism: Mechanism;
  interfaceName?: string;
  labels: Record<string, string>;
}

/** Linux IFNAMSIZ (16) minus the terminating NUL. */
export const LINUX_IF_MAX_LENGTH = 15;
export const MECHANISM_CLS_LOCAL = 'LOCAL';
export const INTERFACE_NAME_KEY = 'name';

const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*$/;
const NAME = /^[A-Za-z0-9._-]+$/;
const IF_NAME = /^[A-Za-z0-9._-]+$/;
/** A comma that starts the next NSURL of a list: followed (maybe after blanks/commas) by a scheme or the end. */
const LIST_SEPARATOR = /,(?=[\s,]*(?:[A-Za-z][A-Za-z0-9+.-]*:\/\/|$))/;

function fail(url: string, reason: string): NsmError {
  return invalidArgument(`failed to parse NSURL "${url}": ${reason}`);
}

function decode(url: string, what: string, text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw fail(url, `bad percent-encoding in ${what} "${text}"`);
  }
}

function checkName(url: string, what: string, name: string): string {
  if (name === '') throw fail(url, `empty ${what}`);
  if (!NAME.test(name))
    throw fail(url, `bad characters in ${what} "${name}" (allowed: letters, digits, ".", "_", "-")`);
  return name;
}

function parseAuthority(url: string, authority: string): string {
  if (authority === '') throw fail(url, 'empty network service');
  if (authority.includes(':')) throw fail(url, `ports and passwords are not allowed in "${authority}"`);
  const parts = authority.split('@');
  if (parts.length > 2) throw fail(url, `more than one "@" in "${authority}"`);
  if (parts.length === 1) return checkName(url, 'network service', decode(url, 'network service', authority));
  const [service, domain] = parts as [string, string];
  return `${checkName(url, 'network service', decode(url, 'network service', service))}@${checkName(url, 'domain', decode(url, 'domain', domain))}`;
}

function parseInterfaceName(url: string, path: string): string | undefined {
  if (path === '') return undefined;
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (last === '') return undefined;
  const name = decode(url, 'interface name', last);
  if (Buffer.byteLength(name) > LINUX_IF_MAX_LENGTH) {
    throw fail(url, `interface name "${name}" is longer than ${LINUX_IF_MAX_LENGTH} characters`);
  }
  if (!IF_NAME.test(name) || name === '.' || name === '..') {
    throw fail(url, `bad characters in interface name "${name}" (allowed: letters, digits, ".", "_", "-")`);
  }
  return name;
}

function parseLabels(url: string, query: string): Record<string, string> {
  const values = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(query)) {
    if (key === '') throw fail(url, `empty label key in "?${query}"`);
    const list = values.get(key);
    if (list) list.push(value);
    else values.set(key, [value]);
  }
  return Object.fromEntries([...values].map(([key, list]) => [key, list.join(',')]));
}

/** Parses one NSURL. Throws INVALID_ARGUMENT naming the URL and what is wrong with it. */
export function parseNsurl(text: string): Nsurl {
  const url = text.trim();
  if (url === '') throw fail(text, 'empty');
  const sep = url.indexOf('://');
  if (sep < 0)
    throw fail(url, 'no mechanism scheme, want <mechanism>://<network-service>[/<ifname>][?labels]');
  const scheme = url.slice(0, sep);
  if (!SCHEME.test(scheme)) throw fail(url, `bad mechanism scheme "${scheme}"`);

  let rest = url.slice(sep + 3);
  const hash = rest.indexOf('#');
  if (hash >= 0) rest = rest.slice(0, hash);
  const question = rest.indexOf('?');
  const query = question >= 0 ? rest.slice(question + 1) : '';
  if (question >= 0) rest = rest.slice(0, question);
  const slash = rest.indexOf('/');
  const authority = slash >= 0 ? rest.slice(0, slash) : rest;
  const path = slash >= 0 ? rest.slice(slash) : '';

  const networkService = parseAuthority(url, authority);
  const interfaceName = parseInterfaceName(url, path);
  const labels = parseLabels(url, query);
  const mechanism: Mechanism = {
    cls: MECHANISM_CLS_LOCAL,
    type: scheme.toUpperCase(),
    parameters: interfaceName === undefined ? {} : { [INTERFACE_NAME_KEY]: interfaceName },
  };
  return interfaceName === undefined
    ? { networkService, mechanism, labels }
    : { networkService, mechanism, interfaceName, labels };
}

/**
 * Parses a comma-separated list of NSURLs (env NSM_NETWORK_SERVICES, the pod annotation).
 *
 * Upstream splits on every comma, so a comma inside a label value breaks the URL. We split only on a
 * comma followed (after optional blanks) by `<scheme>://` or by the end of the text, so
 * `kernel://a/nsm-1?ports=80,443` keeps ports "80,443". A value containing ",<scheme>://" would still
 * split; percent-encode its comma as %2C. Entries are trimmed and empty entries skipped.
 */
export function splitNsurlList(text: string): string[] {
  return text
    .split(LIST_SEPARATOR)
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** splitNsurlList then parseNsurl on each entry; throws on the first bad one. */
export function parseNsurlList(text: string): Nsurl[] {
  return splitNsurlList(text).map(parseNsurl);
}
