// Pure helpers of l7bypass: the NSURL key that chooses the mode, the families a connection uses, and the
// iptables rule that keeps a connection's traffic away from an L7 sidecar's REDIRECT.
import type { IPContext } from '../../../api/gen/networkservice/connectioncontext.js';
import { invalidArgument } from '../../errors/index.js';

/** The NSURL query key (`kernel://svc/nsm-1?l7=capture`); client-local: it is not sent as a label. */
export const L7_LABEL = 'l7';
/** Traffic over the mesh interface goes through the pod's L7 sidecar (but for the client's data-plane check). */
export const L7_CAPTURE = 'capture';
/** Traffic over the mesh interface skips the L7 sidecar (the default). */
export const L7_BYPASS = 'bypass';
export type L7Mode = typeof L7_CAPTURE | typeof L7_BYPASS;
/** Every rule we install carries this comment prefix, followed by the connection id: the census finds them by it. */
export const RULE_COMMENT_PREFIX = 'nsm-l7-bypass';

export type Family = 'ipv4' | 'ipv6';

/** The mode a label value asks for; undefined (no key) is the default, bypass. */
export function parseL7Mode(value: string | undefined, where: string): L7Mode {
  if (value === undefined || value === '' || value === L7_BYPASS) return L7_BYPASS;
  if (value === L7_CAPTURE) return L7_CAPTURE;
  throw invalidArgument(
    `failed to read ${where}: ${L7_LABEL}="${value}" is neither "${L7_CAPTURE}" nor "${L7_BYPASS}"`,
  );
}

/** The address families a connection's IP context uses (IPv4 when it says nothing). */
export function families(ip: IPContext | undefined): Family[] {
  const all = [
    ...(ip?.srcIpAddrs ?? []),
    ...(ip?.dstIpAddrs ?? []),
    ...(ip?.srcRoutes ?? []).map((r) => r.prefix),
    ...(ip?.dstRoutes ?? []).map((r) => r.prefix),
  ];
  const out: Family[] = [];
  if (all.length === 0 || all.some((a) => !a.includes(':'))) out.push('ipv4');
  if (all.some((a) => a.includes(':'))) out.push('ipv6');
  return out;
}

/**
 * The rule spec (after `-t nat -I OUTPUT 1` / `-C OUTPUT` / `-D OUTPUT`) that RETURNs a connection's
 * traffic from the nat OUTPUT chain before any jump a sidecar appended there (Istio's ISTIO_OUTPUT,
 * Linkerd's PROXY_INIT_OUTPUT): a RETURN from a built-in chain applies its policy (ACCEPT), so the
 * packet is never redirected. Matching the output interface covers every route the connection put in
 * the namespace, whatever its prefixes. In capture mode only the client's own data-plane check
 * (TCP to `livenessPort` out of the interface) is kept from the sidecar: a sidecar that accepts it
 * locally would make a dead connection look alive.
 */
export function bypassRule(
  ifname: string,
  connectionId: string,
  mode: L7Mode,
  livenessPort: number,
): string[] {
  const only = mode === L7_CAPTURE ? ['-p', 'tcp', '--dport', String(livenessPort)] : [];
  return [
    '-o',
    ifname,
    ...only,
    '-m',
    'comment',
    '--comment',
    `${RULE_COMMENT_PREFIX}:${connectionId}`,
    '-j',
    'RETURN',
  ];
}

/** Whether `iptables -t nat -S` output holds a rule that rewrites locally sent traffic to a local proxy. */
export function hasRedirect(natRules: string): boolean {
  return /^-A \S+ .*-j (REDIRECT|DNAT)\b/m.test(natRules);
}
