// The authorization policy file (NSM_AUTHZ_POLICY_FILE): which SPIFFE IDs may request which network
// services and register which endpoint names and network services. Pure: parsing and matching only
// (source.ts reads and re-reads the file; the elements that enforce it are authzpolicy in
// sdk/networkservice and sdk/registry).
//
//   allow:
//     - spiffeID: spiffe://example.org/ns/*/sa/client     # exact, or a glob
//       request: [icmp-responder]                          # services it may Request ("*": any)
//       registerEndpoints: [nse-*]                         # endpoint names it may register
//       registerServices: [icmp-responder, forwarder]      # network services it may register
//
// Globs: `*` matches any run of characters except "/", `**` any run including "/"; everything else
// matches itself. A rule grants what its lists name; several rules for one ID add up. Anything no
// rule grants is denied (default deny). An empty file is a policy that allows nothing.
import { isMap, isSeq, LineCounter, type Node, parseDocument } from 'yaml';
import { invalidArgument, type NsmError } from '../../errors/index.js';

export type Action = 'request' | 'registerEndpoints' | 'registerServices';
export const ACTIONS: readonly Action[] = ['request', 'registerEndpoints', 'registerServices'];

/** What an action means in messages: "request network service", ... */
export const ACTION_WORDS: Record<Action, string> = {
  request: 'request network service',
  registerEndpoints: 'register network service endpoint',
  registerServices: 'register network service',
};

export interface Rule {
  spiffeID: string;
  request: string[];
  registerEndpoints: string[];
  registerServices: string[];
}

export interface Policy {
  readonly rules: readonly Rule[];
  /** True when some rule lets `spiffeId` do `action` on `name`. */
  allows(spiffeId: string, action: Action, name: string): boolean;
}

/** A glob of this file's syntax as an anchored RegExp. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (c === '*') re += '[^/]*';
    else re += c.replace(/[.+?^${}()|[\]\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

class CompiledPolicy implements Policy {
  private readonly compiled: { id: RegExp; lists: Record<Action, RegExp[]> }[];

  constructor(readonly rules: readonly Rule[]) {
    this.compiled = rules.map((r) => ({
      id: globToRegExp(r.spiffeID),
      lists: {
        request: r.request.map(globToRegExp),
        registerEndpoints: r.registerEndpoints.map(globToRegExp),
        registerServices: r.registerServices.map(globToRegExp),
      },
    }));
  }

  allows(spiffeId: string, action: Action, name: string): boolean {
    return this.compiled.some((r) => r.id.test(spiffeId) && r.lists[action].some((g) => g.test(name)));
  }
}

export function newPolicy(rules: readonly Rule[]): Policy {
  return new CompiledPolicy(rules);
}

const KEYS = new Set(['spiffeID', ...ACTIONS]);

/**
 * Parses a policy file. Throws INVALID_ARGUMENT with one line naming the file, the line and the
 * field at fault, e.g. `policy.yaml:4: allow[0].request[1]: must be a string`.
 */
export function parsePolicy(text: string, where: string): Policy {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false });
  const at = (node: Node | null | undefined) =>
    node?.range ? `${where}:${lines.linePos(node.range[0]).line}` : where;
  const fail = (node: Node | null | undefined, field: string, why: string): NsmError =>
    invalidArgument(`${at(node)}: ${field}: ${why}`);
  const syntax = doc.errors[0];
  if (syntax) {
    const line = lines.linePos(syntax.pos[0]).line;
    throw invalidArgument(
      `${where}${line ? `:${line}` : ''}: not YAML: ${syntax.message.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '')}`,
    );
  }
  const root = doc.contents;
  if (root === null || (root as { value?: unknown }).value === null) return newPolicy([]);
  if (!isMap(root)) throw fail(root, '(top level)', 'want a mapping with an "allow" list');
  for (const pair of root.items) {
    const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
    if (key !== 'allow') throw fail(pair.key as Node, key, 'unknown field (want "allow")');
  }
  const allow = root.get('allow', true) as Node | undefined;
  if (allow === undefined || (allow as { value?: unknown }).value === null) return newPolicy([]);
  if (!isSeq(allow)) throw fail(allow, 'allow', 'must be a list of rules');
  const rules = allow.items.map((item, i): Rule => {
    const field = `allow[${i}]`;
    if (!isMap(item)) throw fail(item as Node, field, 'must be a mapping (spiffeID, request, ...)');
    for (const pair of item.items) {
      const key = String((pair.key as { value?: unknown })?.value ?? pair.key);
      if (!KEYS.has(key)) {
        throw fail(
          pair.key as Node,
          `${field}.${key}`,
          `unknown field (want one of ${[...KEYS].join(', ')})`,
        );
      }
    }
    const idNode = item.get('spiffeID', true) as Node | undefined;
    const id = (idNode as { value?: unknown } | undefined)?.value;
    if (typeof id !== 'string' || id === '')
      throw fail(idNode ?? item, `${field}.spiffeID`, 'required, a string');
    if (!id.startsWith('spiffe://'))
      throw fail(idNode, `${field}.spiffeID`, `"${id}" must start with spiffe://`);
    const list = (action: Action): string[] => {
      const node = item.get(action, true) as Node | undefined;
      if (node === undefined || (node as { value?: unknown }).value === null) return [];
      if (!isSeq(node)) throw fail(node, `${field}.${action}`, 'must be a list of names');
      return node.items.map((n, j) => {
        const v = (n as { value?: unknown }).value;
        if (typeof v !== 'string' || v === '') {
          throw fail(n as Node, `${field}.${action}[${j}]`, 'must be a non-empty string');
        }
        return v;
      });
    };
    return {
      spiffeID: id,
      request: list('request'),
      registerEndpoints: list('registerEndpoints'),
      registerServices: list('registerServices'),
    };
  });
  return newPolicy(rules);
}
