// NetworkService definitions as YAML, in the shape of upstream's NetworkService custom resource
// (`apiVersion: networkservicemesh.io/v1`, `kind: NetworkService`, `metadata.name`, and a `spec` with
// `name`, `payload`, `matches[].source_selector`, `routes[].destination_selector`, `routes[].weight`,
// `fallthrough`, `metadata.labels`), so the same file can later be `kubectl apply`-ed unchanged.
// A file may hold several documents (`---`); apiVersion and kind may be left out (then name the
// service in metadata.name or spec.name).
//
// Validation is strict: an unknown field, a wrong type or a bad value is an INVALID_ARGUMENT naming
// the file, the line and column, and the field path (`spec.matches[1].routes[0].weight`), because a
// typo in a selector would otherwise silently route traffic elsewhere.
import { readFile } from 'node:fs/promises';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { NetworkService } from '../../../api/gen/registry/registry.js';
import { invalidArgument, type NsmError } from '../../errors/index.js';

export const API_VERSION = 'networkservicemesh.io/v1';
export const KIND = 'NetworkService';
const PAYLOADS = ['ETHERNET', 'IP'];

class Reader {
  constructor(
    private readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  fail(node: Node | null | undefined, field: string, what: string): NsmError {
    const offset = node?.range?.[0] ?? 0;
    const { line, col } = this.lines.linePos(offset);
    return invalidArgument(`${this.file}:${line}:${col}: ${field}: ${what}`);
  }

  /** The entries of a mapping, checking its keys against `allowed`. */
  map(node: unknown, field: string, allowed?: readonly string[]): Map<string, Node | null> {
    if (!isMap(node)) throw this.fail(node as Node, field, 'must be a mapping');
    const out = new Map<string, Node | null>();
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : '';
      const where = field ? `${field}.${key}` : key;
      if (allowed && !allowed.includes(key))
        throw this.fail(pair.key as Node, where, `unknown field (expected one of ${allowed.join(', ')})`);
      out.set(key, (pair.value as Node | null) ?? null);
    }
    return out;
  }

  string(node: Node | null | undefined, field: string): string {
    if (!isScalar(node) || typeof node.value !== 'string') throw this.fail(node, field, 'must be a string');
    return node.value;
  }

  labels(node: Node | null | undefined, field: string): Record<string, string> {
    if (node === null || node === undefined) return {};
    const out: Record<string, string> = {};
    for (const [k, v] of this.map(node, field)) {
      if (!isScalar(v) || typeof v.value !== 'string')
        throw this.fail(v, `${field}.${k}`, 'must be a string (quote numbers and booleans)');
      out[k] = String(v.value);
    }
    return out;
  }

  seq(node: Node | null | undefined, field: string): Node[] {
    if (node === null || node === undefined) return [];
    if (!isSeq(node)) throw this.fail(node, field, 'must be a list');
    return node.items as Node[];
  }
}

function parseSpec(r: Reader, node: Node, field: string, fallbackName: string): NetworkService {
  const spec = r.map(node, field, ['name', 'payload', 'matches', 'path_ids']);
  const name = spec.has('name') ? r.string(spec.get('name'), `${field}.name`) : fallbackName;
  if (!name) throw r.fail(node, `${field}.name`, 'is required (or metadata.name)');
  let payload = '';
  if (spec.has('payload')) {
    payload = r.string(spec.get('payload'), `${field}.payload`);
    if (!PAYLOADS.includes(payload))
      throw r.fail(spec.get('payload'), `${field}.payload`, `must be one of ${PAYLOADS.join(', ')}`);
  }
  const matches = r.seq(spec.get('matches'), `${field}.matches`).map((m, i) => {
    const mf = `${field}.matches[${i}]`;
    const match = r.map(m, mf, ['source_selector', 'routes', 'fallthrough', 'metadata']);
    const fall = match.get('fallthrough');
    if (fall !== undefined && fall !== null && (!isScalar(fall) || typeof fall.value !== 'boolean'))
      throw r.fail(fall, `${mf}.fallthrough`, 'must be true or false');
    const meta = match.get('metadata');
    return {
      sourceSelector: r.labels(match.get('source_selector'), `${mf}.source_selector`),
      routes: r.seq(match.get('routes'), `${mf}.routes`).map((rt, j) => {
        const rf = `${mf}.routes[${j}]`;
        const route = r.map(rt, rf, ['destination_selector', 'weight']);
        const w = route.get('weight');
        let weight = 0;
        if (w !== undefined && w !== null) {
          if (!isScalar(w) || typeof w.value !== 'number' || !Number.isInteger(w.value) || w.value < 0)
            throw r.fail(w, `${rf}.weight`, 'must be a non-negative integer');
          weight = w.value;
        }
        return {
          destinationSelector: r.labels(route.get('destination_selector'), `${rf}.destination_selector`),
          weight,
        };
      }),
      fallthrough: isScalar(fall) && fall.value === true,
      metadata:
        meta === undefined || meta === null
          ? undefined
          : {
              labels: r.labels(
                r.map(meta, `${mf}.metadata`, ['labels']).get('labels'),
                `${mf}.metadata.labels`,
              ),
            },
    };
  });
  const pathIds = r
    .seq(spec.get('path_ids'), `${field}.path_ids`)
    .map((p, i) => r.string(p, `${field}.path_ids[${i}]`));
  return NetworkService.fromPartial({ name, payload, matches, pathIds });
}

/** Parses the NetworkService documents of one YAML text; `file` names it in errors. */
export function parseNetworkServices(text: string, file: string): NetworkService[] {
  const lines = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lines, prettyErrors: false });
  if (!Array.isArray(docs)) return []; // an empty stream
  const r = new Reader(file, lines);
  const out: NetworkService[] = [];
  for (const doc of docs) {
    const err = doc.errors[0];
    if (err) {
      const { line, col } = lines.linePos(err.pos[0]);
      throw invalidArgument(`${file}:${line}:${col}: not valid YAML: ${err.message.split('\n')[0]}`);
    }
    if (doc.contents === null) continue;
    const top = r.map(doc.contents, '', ['apiVersion', 'kind', 'metadata', 'spec']);
    if (top.has('kind') || top.has('apiVersion')) {
      const version = r.string(top.get('apiVersion'), 'apiVersion');
      if (version !== API_VERSION)
        throw r.fail(top.get('apiVersion'), 'apiVersion', `must be ${API_VERSION}`);
      const kind = r.string(top.get('kind'), 'kind');
      if (kind !== KIND) throw r.fail(top.get('kind'), 'kind', `must be ${KIND}`);
    }
    let metaName = '';
    const meta = top.get('metadata');
    if (meta) {
      const m = r.map(meta, 'metadata');
      if (m.has('name')) metaName = r.string(m.get('name'), 'metadata.name');
    }
    const spec = top.get('spec');
    if (!spec) throw r.fail(doc.contents as Node, 'spec', 'is required');
    out.push(parseSpec(r, spec, 'spec', metaName));
  }
  const seen = new Set<string>();
  for (const ns of out) {
    if (seen.has(ns.name)) throw invalidArgument(`${file}: network service "${ns.name}" is defined twice`);
    seen.add(ns.name);
  }
  return out;
}

/** Reads and parses a file (see parseNetworkServices). */
export async function loadNetworkServices(file: string): Promise<NetworkService[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw invalidArgument(`failed to read ${file}: ${(e as Error).message}`);
  }
  return parseNetworkServices(text, file);
}
