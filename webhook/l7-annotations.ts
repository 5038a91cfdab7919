// The exclusion annotations of the common L7 meshes, from a pod's NSURLs: what makes Istio's and
// Linkerd's own traffic capture (istio-init / istio-cni, linkerd-init / linkerd-cni) leave the pod's mesh
// interfaces alone, the Kubernetes counterpart of the nsc's bypass rule (sdk/networkservice/l7bypass),
// which the injected client cannot install (it has no capabilities).
//
// - Istio `traffic.sidecar.istio.io/excludeInterfaces`: the interface names of the KERNEL NSURLs that do
//   not say `l7=capture` (an NSURL without an interface name gets a generated one, unknown here).
// - Istio `traffic.sidecar.istio.io/excludeOutboundIPRanges`, Linkerd `config.linkerd.io/skip-subnets`:
//   the prefixes of those services, when the webhook is told them (NSM_L7_SERVICE_PREFIXES): an NSURL does
//   not carry them, the endpoint's IPAM assigns them at connect time, after the pod was admitted. Linkerd
//   has no interface exclusion, so for Linkerd this is the only way to bypass.
// - Istio `traffic.sidecar.istio.io/excludeOutboundPorts`, Linkerd `config.linkerd.io/skip-outbound-ports`:
//   the client's data-plane check port (TCP 9) for every KERNEL NSURL, capture or not: a sidecar that
//   accepts that connection itself would make a dead mesh connection look alive.
// Values the user already set are kept, ours are appended (comma-separated lists).
import { LIVENESS_PORT } from '../sdk/networkservice/heal/index.js';
import { L7_CAPTURE, L7_LABEL, parseL7Mode } from '../sdk/networkservice/l7bypass/index.js';
import type { Nsurl } from '../sdk/tools/nsurl/index.js';

export const ISTIO_EXCLUDE_INTERFACES = 'traffic.sidecar.istio.io/excludeInterfaces';
export const ISTIO_EXCLUDE_OUTBOUND_IP_RANGES = 'traffic.sidecar.istio.io/excludeOutboundIPRanges';
export const ISTIO_EXCLUDE_OUTBOUND_PORTS = 'traffic.sidecar.istio.io/excludeOutboundPorts';
export const LINKERD_SKIP_SUBNETS = 'config.linkerd.io/skip-subnets';
export const LINKERD_SKIP_OUTBOUND_PORTS = 'config.linkerd.io/skip-outbound-ports';

export interface L7AnnotationOptions {
  /** Prefixes per network service name (the vL3 prefix, an endpoint's CIDR), when known. */
  servicePrefixes: Record<string, string[]>;
  /** The client's data-plane check port (default heal's). */
  livenessPort?: number;
}

/**
 * The annotations to set (merged with `existing`), only those whose value changes. Throws an
 * INVALID_ARGUMENT NsmError for an NSURL whose `l7` value is neither capture nor bypass.
 */
export function l7Annotations(
  urls: Nsurl[],
  existing: Record<string, string> | undefined,
  opts: L7AnnotationOptions,
): Record<string, string> {
  const kernel = urls.filter((u) => u.mechanism.type === 'KERNEL');
  const bypass = kernel.filter(
    (u) => parseL7Mode(u.labels[L7_LABEL], `NSURL of service ${u.networkService}`) !== L7_CAPTURE,
  );
  const ifnames = bypass.flatMap((u) => (u.interfaceName ? [u.interfaceName] : []));
  const prefixes = bypass.flatMap((u) => opts.servicePrefixes[u.networkService] ?? []);
  const ports = kernel.length > 0 ? [String(opts.livenessPort ?? LIVENESS_PORT)] : [];
  const want: Record<string, string[]> = {
    [ISTIO_EXCLUDE_INTERFACES]: ifnames,
    [ISTIO_EXCLUDE_OUTBOUND_IP_RANGES]: prefixes,
    [ISTIO_EXCLUDE_OUTBOUND_PORTS]: ports,
    [LINKERD_SKIP_SUBNETS]: prefixes,
    [LINKERD_SKIP_OUTBOUND_PORTS]: ports,
  };
  const out: Record<string, string> = {};
  for (const [key, ours] of Object.entries(want)) {
    if (ours.length === 0) continue;
    const have = existing?.[key];
    const merged = mergeList(have, ours);
    if (merged !== have) out[key] = merged;
  }
  return out;
}

/** The user's list first, then ours that it lacks; the user's text unchanged when nothing is added. */
export function mergeList(have: string | undefined, ours: string[]): string {
  const items = (have ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const add = [...new Set(ours)].filter((o) => !items.includes(o));
  if (add.length === 0 && have !== undefined) return have;
  return [...items, ...add].join(',');
}
