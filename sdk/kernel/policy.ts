// Policy routes: `ip_context.policies` on the client side, as upstream's sdk-kernel `iprule` element
// applies them. Each policy gets a routing table of its own in the client's namespace and one rule
// that sends matching traffic there:
//
//   client (NSC) namespace
//   ┌─────────────────────────────────────────────────────────────────────────┐
//   │ rule: from 10.0.0.0/24 ipproto tcp dport 8080 → table T+0               │
//   │ table T+0: 192.168.0.0/16 via 172.16.1.100 dev nsm-1 onlink             │
//   │ rule: ipproto udp sport 5000-5010 → table T+1 ...                       │
//   └─────────────────────────────────────────────────────────────────────────┘
//
// T is derived from the connection id (`policyTableBase`), so it is known again after a forwarder
// restart and on Close without keeping anything. A table's routes use the connection's interface and
// go with it; the rules do not (a rule names a table, not a link), so they are removed explicitly
// (`Dataplane.clearPolicies`) on Close and before they are written again.
//
// IPv6 policies (an IPv6 `from` or IPv6 routes; one family per policy) work the same, with one
// difference: `ip rule` cannot tell the family from its selectors and a batch line cannot say `-6`,
// so their rules are written by a separate `ip -6 -batch` (`policyRules6`), run right after the old
// rules are cleared (`resetPolicyRules`); their routes go into the interface's batch like IPv4 ones.
import { createHash } from 'node:crypto';
import { status } from '@grpc/grpc-js';
import type { PolicyRoute } from '../../api/gen/networkservice/connectioncontext.js';
import { invalidArgument } from '../errors/index.js';
import type { RouteSpec } from './connection-context.js';
import { type IpRunner, isKernelCommandError, type NetnsRef, type RunOptions } from './iproute2.js';
import { networkString, parseCidr, parseIp } from './validate.js';

/** At most this many policies per connection: table numbers T .. T+MAX_POLICIES-1 belong to it. */
export const MAX_POLICIES = 16;
/** Table numbers below this are left alone (main is 254, local 255; operators use small numbers). */
export const POLICY_TABLE_MIN = 0x10000;
/** How many connections' table ranges there are: 2^20 (collision in one namespace is unlikely). */
const POLICY_TABLE_SLOTS = 1 << 20;

/** One policy: traffic matching the selectors looks up `routes` (in its own table). */
export interface PolicySpec {
  /** Source prefix ("10.0.0.0/24"); absent for every source. */
  readonly from?: string;
  /** IP protocol by name or number ("tcp", "udp", "17"). */
  readonly proto?: string;
  /** Destination port or range ("8080", "8000-8080"). */
  readonly dport?: string;
  readonly sport?: string;
  readonly routes: readonly RouteSpec[];
  /** Absent means 4. */
  readonly family?: 6;
}

/** The interface's policies with the first table number they use. */
export interface PolicyConfig {
  readonly tableBase: number;
  readonly policies: readonly PolicySpec[];
}

/** The first routing table of a connection's policies: stable for the connection id. */
export function policyTableBase(connId: string): number {
  const h = createHash('sha256').update(connId).digest().readUInt32BE(0);
  return POLICY_TABLE_MIN + (h % POLICY_TABLE_SLOTS) * MAX_POLICIES;
}

/** Whether a table number belongs to the range starting at `tableBase`. */
export function inPolicyRange(table: number, tableBase: number): boolean {
  return table >= tableBase && table < tableBase + MAX_POLICIES;
}

const PROTO_RE = /^(?:[a-z][a-z0-9-]{0,15}|\d{1,3})$/;
const PORT_RE = /^(\d{1,5})(?:-(\d{1,5}))?$/;

/** Checks and canonicalises `ip_context.policies` (INVALID_ARGUMENT naming the field). */
export function policyPlan(policies: readonly PolicyRoute[] | undefined): PolicySpec[] {
  const list = policies ?? [];
  if (list.length > MAX_POLICIES) {
    throw invalidArgument(`too many ip_context.policies: ${list.length} (at most ${MAX_POLICIES})`);
  }
  return list.map((p, i) => {
    const field = `policies[${i}]`;
    const spec: { -readonly [K in keyof PolicySpec]: PolicySpec[K] } = { routes: [] };
    let family: 4 | 6 | undefined;
    // One family per policy: its rule lives in the IPv4 or the IPv6 rule list, not both.
    const same = <T extends { family: 4 | 6 }>(v: T, f: string): T => {
      if (family !== undefined && v.family !== family) {
        throw invalidArgument(
          `invalid ${f}: IPv${v.family} in an IPv${family} policy (one family per policy)`,
        );
      }
      family = v.family;
      return v;
    };
    if (p.from) spec.from = networkString(same(parseCidr(p.from, `${field}.from`), `${field}.from`));
    if (p.proto) spec.proto = checkProto(p.proto, `${field}.proto`);
    if (p.dstPort) spec.dport = checkPorts(p.dstPort, `${field}.dst_port`);
    if (p.srcPort) spec.sport = checkPorts(p.srcPort, `${field}.src_port`);
    if ((spec.dport || spec.sport) && !spec.proto) {
      throw invalidArgument(`invalid ${field}: a port needs proto (tcp, udp or sctp)`);
    }
    spec.routes = p.routes.map((r, j) => {
      const rf = `${field}.routes[${j}]`;
      // An empty prefix is upstream's "default route" (of the policy's family).
      const text = r.prefix || (family === 6 || r.nextHop.includes(':') ? '::/0' : '0.0.0.0/0');
      const prefix = networkString(same(parseCidr(text, `${rf}.prefix`), `${rf}.prefix`));
      return r.nextHop
        ? { prefix, via: same(parseIp(r.nextHop, `${rf}.nextHop`), `${rf}.nextHop`).ip }
        : { prefix };
    });
    if (family === 6) spec.family = 6;
    return spec;
  });
}

/**
 * Batch lines for the policies of interface `ifname`: each policy's routes into table base+i, then its
 * rule. Run after the interface is up (routes with `onlink` need it).
 */
export function policyCommands(ifname: string, cfg: PolicyConfig): string[] {
  const out: string[] = [];
  cfg.policies.forEach((p, i) => {
    const table = cfg.tableBase + i;
    for (const r of p.routes) {
      out.push(
        r.via
          ? `route replace ${r.prefix} via ${r.via} dev ${ifname} table ${table} onlink`
          : `route replace ${r.prefix} dev ${ifname} table ${table} scope link`,
      );
    }
    if (p.family !== 6) out.push(ruleLine(p, table));
  });
  return out;
}

/** The rules of the IPv6 policies, for an `ip -6 -batch` (see the top of the file). */
export function policyRules6(cfg: PolicyConfig): string[] {
  return cfg.policies.flatMap((p, i) => (p.family === 6 ? [ruleLine(p, cfg.tableBase + i)] : []));
}

function ruleLine(p: PolicySpec, table: number): string {
  const sel = [
    `from ${p.from ?? 'all'}`,
    p.proto ? `ipproto ${p.proto}` : '',
    p.sport ? `sport ${p.sport}` : '',
    p.dport ? `dport ${p.dport}` : '',
  ].filter(Boolean);
  return `rule add ${sel.join(' ')} table ${table}`;
}

function checkProto(v: string, field: string): string {
  const p = v.trim().toLowerCase();
  if (!PROTO_RE.test(p) || (/^\d+$/.test(p) && Number(p) > 255)) {
    throw invalidArgument(`invalid ${field} ${JSON.stringify(v)}: want a protocol name or number 0-255`);
  }
  return p;
}

function checkPorts(v: string, field: string): string {
  const m = PORT_RE.exec(v.trim());
  const lo = Number(m?.[1]);
  const hi = m?.[2] === undefined ? lo : Number(m[2]);
  if (!m || lo < 1 || hi > 65535 || hi < lo) {
    throw invalidArgument(
      `invalid ${field} ${JSON.stringify(v)}: want a port or a range "LOW-HIGH" in 1-65535`,
    );
  }
  return lo === hi ? String(lo) : `${lo}-${hi}`;
}

interface JsonRule {
  priority: number;
  table?: string;
}

/**
 * Deletes the IPv4 and IPv6 rules whose table lies in the range starting at `tableBase` (one query
 * and, when there are any, one forced batch per family). A namespace that is gone has none.
 */
export async function clearPolicyRules(
  runner: IpRunner,
  netns: NetnsRef | null,
  tableBase: number,
  opts: RunOptions = {},
): Promise<void> {
  for (const family of [4, 6] as const) {
    let rules: JsonRule[];
    try {
      rules = await runner.json<JsonRule[]>(netns, [`-${family}`, 'rule', 'show'], opts);
    } catch (e) {
      if (isKernelCommandError(e) && e.code === status.NOT_FOUND) return;
      throw e;
    }
    const ours = rules.filter(
      (r) => /^\d+$/.test(r.table ?? '') && inPolicyRange(Number(r.table), tableBase),
    );
    if (ours.length === 0) continue;
    await runner.batch(
      netns,
      ours.map((r) => `rule del pref ${Number(r.priority)} table ${Number(r.table)}`),
      { ...opts, force: true, ...(family === 6 ? { family } : {}) },
    );
  }
}

/**
 * Before a connection's policies are written: removes the rules an earlier run left (rules are not
 * idempotent), then adds the IPv6 rules, which cannot go into the interface's batch. They name only
 * a table, so they may precede the interface and its routes.
 */
export async function resetPolicyRules(
  runner: IpRunner,
  netns: NetnsRef | null,
  cfg: PolicyConfig,
  opts: RunOptions = {},
): Promise<void> {
  await clearPolicyRules(runner, netns, cfg.tableBase, opts);
  const rules6 = policyRules6(cfg);
  if (rules6.length) await runner.batch(netns, rules6, { ...opts, family: 6 });
}
