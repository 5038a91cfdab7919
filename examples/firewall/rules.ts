// The firewall's rules: a YAML file, checked strictly (errors name file, line, column and field),
// rendered as one nftables table for the CNF's namespace. Only forwarded traffic is filtered (the
// `forward` hook): what passes through the CNF, never the CNF's own sockets.
//
//   default: deny            # policy for what no rule matches: allow or deny
//   rules:                   # first match wins, in order
//     - name: ping           # unique; names the rule's counter
//       action: allow        # allow or deny
//       proto: icmp          # tcp, udp, icmp, icmpv6 or any (default any)
//       port: 80             # destination port or range "8000-8080" (tcp/udp only)
//       source: 172.16.0.0/16       # source prefix (IPv4 or IPv6)
//       destination: 10.0.0.1/32    # destination prefix
//
// Replies of allowed flows pass (conntrack: established, related), so a rule allows a conversation,
// not one direction of it. Keep TCP port 9 allowed from the client to the endpoint address: that is
// the client's data-plane liveness check (sdk/networkservice/heal/liveness.ts); dropped, the client
// takes the chain for dead and rebuilds it again and again.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { invalidArgument } from '../../sdk/errors/index.js';
import { parseCidr } from '../../sdk/kernel/validate.js';

export const TABLE = 'nsm_firewall';
const PROTOS = ['tcp', 'udp', 'icmp', 'icmpv6', 'any'] as const;
export type Proto = (typeof PROTOS)[number];

export interface Rule {
  name: string;
  action: 'allow' | 'deny';
  proto: Proto;
  port?: string;
  source?: string;
  destination?: string;
}

export interface Ruleset {
  default: 'allow' | 'deny';
  rules: Rule[];
}

const RULE_FIELDS = ['name', 'action', 'proto', 'port', 'source', 'destination'];
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;
const PORT = /^(\d{1,5})(?:-(\d{1,5}))?$/;

export function parseRules(text: string, file: string): Ruleset {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const fail = (node: unknown, field: string, what: string) => {
    const { line, col } = lines.linePos((node as Node | undefined)?.range?.[0] ?? 0);
    return invalidArgument(`${file}:${line}:${col}: ${field}: ${what}`);
  };
  if (doc.errors[0]) {
    const { line, col } = lines.linePos(doc.errors[0].pos[0]);
    throw invalidArgument(`${file}:${line}:${col}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`);
  }
  const fields = (node: unknown, where: string, allowed: string[]) => {
    if (!isMap(node)) throw fail(node, where || 'document', 'must be a mapping');
    const out = new Map<string, Node>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const field = where ? `${where}.${key}` : key;
      if (!allowed.includes(key))
        throw fail(pair.key, field, `unknown field (expected one of ${allowed.join(', ')})`);
      out.set(key, pair.value as Node);
    }
    return out;
  };
  const scalar = (node: Node | undefined, field: string, allowed?: readonly string[]): string | undefined => {
    if (node === undefined) return undefined;
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number'))
      throw fail(node, field, 'must be a string');
    const v = String(node.value);
    if (allowed && !allowed.includes(v)) throw fail(node, field, `must be one of ${allowed.join(', ')}`);
    return v;
  };
  const top = fields(doc.contents, '', ['default', 'rules']);
  const policy = (scalar(top.get('default'), 'default', ['allow', 'deny']) ?? 'deny') as Ruleset['default'];
  const list = top.get('rules');
  if (list !== undefined && list !== null && !isSeq(list)) throw fail(list, 'rules', 'must be a list');
  const seen = new Set<string>();
  const rules = ((list as { items?: Node[] } | undefined)?.items ?? []).map((item, i) => {
    const where = `rules[${i}]`;
    const f = fields(item, where, RULE_FIELDS);
    const name = scalar(f.get('name'), `${where}.name`);
    if (!name) throw fail(item, `${where}.name`, 'is required');
    if (!NAME.test(name)) throw fail(f.get('name'), `${where}.name`, 'must be 1-64 of A-Z a-z 0-9 _ . -');
    if (seen.has(name)) throw fail(f.get('name'), `${where}.name`, `"${name}" is used by an earlier rule`);
    seen.add(name);
    const action = scalar(f.get('action'), `${where}.action`, ['allow', 'deny']);
    if (!action) throw fail(item, `${where}.action`, 'is required');
    const proto = (scalar(f.get('proto'), `${where}.proto`, PROTOS) ?? 'any') as Proto;
    const port = scalar(f.get('port'), `${where}.port`);
    if (port !== undefined) {
      const m = PORT.exec(port);
      const [lo, hi] = [Number(m?.[1]), Number(m?.[2] ?? m?.[1])];
      if (!m || lo < 1 || hi > 65535 || lo > hi)
        throw fail(f.get('port'), `${where}.port`, 'must be a port 1-65535 or a range "low-high"');
      if (proto !== 'tcp' && proto !== 'udp')
        throw fail(f.get('port'), `${where}.port`, 'needs proto tcp or udp');
    }
    const prefix = (key: 'source' | 'destination') => {
      const v = scalar(f.get(key), `${where}.${key}`);
      if (v === undefined) return undefined;
      try {
        parseCidr(v, `${where}.${key}`);
      } catch {
        throw fail(f.get(key), `${where}.${key}`, `"${v}" is not a prefix (a.b.c.d/n or an IPv6 prefix)`);
      }
      return v;
    };
    const source = prefix('source');
    const destination = prefix('destination');
    const v6 = [source, destination].filter((p) => p !== undefined).map((p) => p.includes(':'));
    if (v6.length === 2 && v6[0] !== v6[1])
      throw fail(item, where, 'source and destination must be of the same address family');
    return { name, action: action as Rule['action'], proto, port, source, destination };
  });
  return { default: policy, rules };
}

/** The nft statements of one rule (without the verdict). */
function matchOf(rule: Rule): string {
  const parts: string[] = [];
  const family = (p: string) => (p.includes(':') ? 'ip6' : 'ip');
  if (rule.source) parts.push(`${family(rule.source)} saddr ${rule.source}`);
  if (rule.destination) parts.push(`${family(rule.destination)} daddr ${rule.destination}`);
  if (rule.proto === 'tcp' || rule.proto === 'udp') {
    parts.push(rule.port ? `${rule.proto} dport ${rule.port}` : `meta l4proto ${rule.proto}`);
  } else if (rule.proto === 'icmp') {
    parts.push('meta l4proto icmp');
  } else if (rule.proto === 'icmpv6') {
    parts.push('meta l4proto ipv6-icmp');
  }
  return parts.join(' ');
}

/**
 * The whole table as an `nft -f` script that replaces the previous one atomically (the add makes the
 * delete valid the first time). Every rule and the default policy count what they match.
 */
export function renderRuleset(rs: Ruleset): string {
  const lines = [
    `add table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    '    ct state established,related accept',
  ];
  for (const r of rs.rules) {
    const verdict = r.action === 'allow' ? 'accept' : 'drop';
    lines.push(
      `    ${matchOf(r)} counter ${verdict} comment "${r.name}"`.replace(/ {2,}/g, ' ').replace(/^ /, '    '),
    );
  }
  lines.push(`    counter ${rs.default === 'allow' ? 'accept' : 'drop'} comment "default"`);
  lines.push('  }', '}');
  return `${lines.join('\n')}\n`;
}
