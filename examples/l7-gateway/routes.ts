// The gateway's HTTP routes: a YAML file of one or more Kubernetes Gateway API `HTTPRoute` objects
// (`---` between them), checked strictly (errors name file, line, column and field). What is read
// (the README's "L7 gateway" section lists it too):
//
//   apiVersion: gateway.networking.k8s.io/v1     # optional; checked when present
//   kind: HTTPRoute                              # optional; checked when present
//   metadata: {name: shop}                       # names the route's backends and counters
//   spec:
//     hostnames: [shop.example, "*.shop.example"]   # Host header; none: any host
//     rules:
//       - matches:                               # OR of matches; none: every request
//           - path: {type: PathPrefix, value: /api}   # PathPrefix (default) or Exact
//             headers: [{name: x-canary, value: "1"}]  # all must match, exact value
//         backendRefs:                           # network services the gateway connects to
//           - {name: web-v1, port: 8080, weight: 90}
//         timeouts: {request: 2s, backendRequest: 1s}
//         retry: {codes: [503], attempts: 2, backoff: 100ms}   # experimental in Gateway API
//
// A backendRef's `name` is a network service: the gateway requests a mesh connection to it and
// sends the rule's traffic to the far address of that connection, at `port`.
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { invalidArgument } from '../../sdk/errors/index.js';

export type PathType = 'Exact' | 'PathPrefix';

export interface Match {
  path?: { type: PathType; value: string };
  headers: { name: string; value: string }[];
}

export interface BackendRef {
  name: string;
  port: number;
  weight: number;
}

export interface Rule {
  matches: Match[];
  backendRefs: BackendRef[];
  /** timeouts.request and timeouts.backendRequest, in ms. */
  requestTimeoutMs?: number;
  backendRequestTimeoutMs?: number;
  retry?: { codes: number[]; attempts: number; backoffMs?: number };
}

export interface HttpRoute {
  name: string;
  hostnames: string[];
  rules: Rule[];
}

/** Status codes HAProxy's `retry-on` can retry on (HAProxy 2.6 configuration manual). */
export const RETRYABLE_CODES = [401, 403, 404, 408, 425, 500, 501, 502, 503, 504];
const NAME = /^[a-z0-9]([a-z0-9.-]{0,61}[a-z0-9])?$/;
const HOSTNAME = /^(\*\.)?[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/;
const HEADER_NAME = /^[A-Za-z0-9!#$%&'*+\-.^_`|~]{1,256}$/;
/** Gateway API durations (GEP-2257): one to four <number><unit> parts, e.g. 1s, 500ms, 1m30s. */
const DURATION = /^(\d{1,5}(h|m|s|ms)){1,4}$/;
const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 };

export function parseDuration(v: string): number | undefined {
  if (!DURATION.test(v)) return undefined;
  let ms = 0;
  for (const m of v.matchAll(/(\d+)(ms|h|m|s)/g)) ms += Number(m[1]) * UNIT_MS[m[2]];
  return ms;
}

/** Parses the routes file; throws INVALID_ARGUMENT "FILE:LINE:COL: FIELD: what is wrong". */
export function parseRoutes(text: string, file: string): HttpRoute[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  const fail = (node: unknown, field: string, what: string) => {
    const { line, col } = lines.linePos((node as Node | undefined)?.range?.[0] ?? 0);
    return invalidArgument(`${file}:${line}:${col}: ${field}: ${what}`);
  };
  const list = Array.isArray(docs) ? docs : [docs];
  for (const doc of list) {
    if (doc.errors[0]) {
      const { line, col } = lines.linePos(doc.errors[0].pos[0]);
      throw invalidArgument(
        `${file}:${line}:${col}: not valid YAML: ${doc.errors[0].message.split('\n')[0]}`,
      );
    }
  }
  const fields = (node: unknown, where: string, allowed: string[]) => {
    if (!isMap(node)) throw fail(node, where || 'document', 'must be a mapping');
    const out = new Map<string, Node>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const field = where ? `${where}.${key}` : key;
      if (!allowed.includes(key))
        throw fail(pair.key, field, `unknown field (supported: ${allowed.join(', ')})`);
      out.set(key, pair.value as Node);
    }
    return out;
  };
  const str = (node: Node | undefined, field: string): string | undefined => {
    if (node === undefined || node === null) return undefined;
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number'))
      throw fail(node, field, 'must be a string');
    return String(node.value);
  };
  const int = (node: Node | undefined, field: string, min: number, max: number): number | undefined => {
    if (node === undefined || node === null) return undefined;
    if (
      !isScalar(node) ||
      !Number.isInteger(node.value) ||
      (node.value as number) < min ||
      (node.value as number) > max
    )
      throw fail(node, field, `must be an integer ${min}-${max}`);
    return node.value as number;
  };
  const seq = (node: Node | undefined, field: string): Node[] => {
    if (node === undefined || node === null) return [];
    if (!isSeq(node)) throw fail(node, field, 'must be a list');
    return node.items as Node[];
  };
  const duration = (node: Node | undefined, field: string): number | undefined => {
    const v = str(node, field);
    if (v === undefined) return undefined;
    const ms = parseDuration(v);
    if (ms === undefined) throw fail(node, field, `"${v}" is not a duration (e.g. 500ms, 2s, 1m30s)`);
    return ms;
  };

  const seen = new Set<string>();
  return list
    .filter((d) => d.contents !== null)
    .map((doc, d) => {
      const top = fields(doc.contents, '', ['apiVersion', 'kind', 'metadata', 'spec']);
      const api = str(top.get('apiVersion'), 'apiVersion');
      if (api !== undefined && !api.startsWith('gateway.networking.k8s.io/'))
        throw fail(top.get('apiVersion'), 'apiVersion', 'must be gateway.networking.k8s.io/<version>');
      const kind = str(top.get('kind'), 'kind');
      if (kind !== undefined && kind !== 'HTTPRoute')
        throw fail(top.get('kind'), 'kind', 'must be HTTPRoute');
      const meta = top.has('metadata')
        ? fields(top.get('metadata'), 'metadata', ['name', 'namespace', 'labels', 'annotations'])
        : new Map<string, Node>();
      const name = str(meta.get('name'), 'metadata.name') ?? `route${d}`;
      if (!NAME.test(name))
        throw fail(meta.get('name'), 'metadata.name', 'must be a DNS label (a-z 0-9 . -)');
      if (seen.has(name))
        throw fail(meta.get('name'), 'metadata.name', `"${name}" is used by an earlier route`);
      seen.add(name);
      if (!top.has('spec')) throw fail(doc.contents, 'spec', 'is required');
      // parentRefs are accepted and ignored: this gateway is the only parent there is.
      const spec = fields(top.get('spec'), 'spec', ['parentRefs', 'hostnames', 'rules']);
      const hostnames = seq(spec.get('hostnames'), 'spec.hostnames').map((h, i) => {
        const v = str(h, `spec.hostnames[${i}]`) ?? '';
        if (!HOSTNAME.test(v))
          throw fail(h, `spec.hostnames[${i}]`, `"${v}" is not a hostname (a.example or *.example)`);
        return v;
      });
      const rules = seq(spec.get('rules'), 'spec.rules').map((r, i): Rule => {
        const where = `spec.rules[${i}]`;
        const f = fields(r, where, ['name', 'matches', 'backendRefs', 'timeouts', 'retry']);
        const matches = seq(f.get('matches'), `${where}.matches`).map((m, j): Match => {
          const mw = `${where}.matches[${j}]`;
          const mf = fields(m, mw, ['path', 'headers']);
          let path: Match['path'];
          if (mf.has('path')) {
            const pf = fields(mf.get('path'), `${mw}.path`, ['type', 'value']);
            const type = str(pf.get('type'), `${mw}.path.type`) ?? 'PathPrefix';
            if (type !== 'Exact' && type !== 'PathPrefix')
              throw fail(
                pf.get('type'),
                `${mw}.path.type`,
                'must be Exact or PathPrefix (RegularExpression is not supported)',
              );
            const value = str(pf.get('value'), `${mw}.path.value`) ?? '/';
            if (!value.startsWith('/') || /[\s"'\\#?]/.test(value))
              throw fail(
                pf.get('value'),
                `${mw}.path.value`,
                'must start with / and hold no spaces, quotes, # or ?',
              );
            path = { type, value };
          }
          const headers = seq(mf.get('headers'), `${mw}.headers`).map((h, k) => {
            const hw = `${mw}.headers[${k}]`;
            const hf = fields(h, hw, ['type', 'name', 'value']);
            const type = str(hf.get('type'), `${hw}.type`) ?? 'Exact';
            if (type !== 'Exact')
              throw fail(hf.get('type'), `${hw}.type`, 'must be Exact (RegularExpression is not supported)');
            const hname = str(hf.get('name'), `${hw}.name`);
            if (!hname || !HEADER_NAME.test(hname))
              throw fail(hf.get('name') ?? h, `${hw}.name`, 'must be a header name');
            const value = str(hf.get('value'), `${hw}.value`) ?? '';
            if (/[\s"'\\]/.test(value))
              throw fail(hf.get('value'), `${hw}.value`, 'may hold no spaces, quotes or backslashes');
            return { name: hname.toLowerCase(), value };
          });
          return { path, headers };
        });
        const backendRefs = seq(f.get('backendRefs'), `${where}.backendRefs`).map((b, k) => {
          const bw = `${where}.backendRefs[${k}]`;
          const bf = fields(b, bw, ['group', 'kind', 'name', 'namespace', 'port', 'weight']);
          const bname = str(bf.get('name'), `${bw}.name`);
          if (!bname) throw fail(b, `${bw}.name`, 'is required (a network service)');
          if (!NAME.test(bname))
            throw fail(bf.get('name'), `${bw}.name`, 'must be a network service name (a-z 0-9 . -)');
          const port = int(bf.get('port'), `${bw}.port`, 1, 65535);
          if (port === undefined) throw fail(b, `${bw}.port`, 'is required');
          return { name: bname, port, weight: int(bf.get('weight'), `${bw}.weight`, 0, 1_000_000) ?? 1 };
        });
        if (backendRefs.length === 0) throw fail(r, `${where}.backendRefs`, 'needs at least one backend');
        if (backendRefs.every((b) => b.weight === 0))
          throw fail(f.get('backendRefs'), `${where}.backendRefs`, 'all weights are 0');
        const rule: Rule = { matches, backendRefs };
        if (f.has('timeouts')) {
          const tf = fields(f.get('timeouts'), `${where}.timeouts`, ['request', 'backendRequest']);
          rule.requestTimeoutMs = duration(tf.get('request'), `${where}.timeouts.request`);
          rule.backendRequestTimeoutMs = duration(
            tf.get('backendRequest'),
            `${where}.timeouts.backendRequest`,
          );
        }
        if (f.has('retry')) {
          const rw = `${where}.retry`;
          const rf = fields(f.get('retry'), rw, ['codes', 'attempts', 'backoff']);
          const codes = seq(rf.get('codes'), `${rw}.codes`).map((c, k) => {
            const code = int(c, `${rw}.codes[${k}]`, 400, 599) ?? 0;
            if (!RETRYABLE_CODES.includes(code))
              throw fail(c, `${rw}.codes[${k}]`, `HAProxy retries only on ${RETRYABLE_CODES.join(', ')}`);
            return code;
          });
          const attempts = int(rf.get('attempts'), `${rw}.attempts`, 0, 100) ?? 1;
          rule.retry = { codes, attempts, backoffMs: duration(rf.get('backoff'), `${rw}.backoff`) };
        }
        return rule;
      });
      return { name, hostnames, rules };
    });
}

/** The network services the routes send to (each one mesh connection of the gateway). */
export function backendServices(routes: HttpRoute[]): string[] {
  return [...new Set(routes.flatMap((r) => r.rules.flatMap((u) => u.backendRefs.map((b) => b.name))))].sort();
}
