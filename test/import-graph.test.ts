// The import graph of the sources: no cycles between modules (a cycle makes load order decide what
// is initialised), and no product code importing test/. Reads the TypeScript sources, not dist/.
// Type-only imports are left out: they are erased and cannot form a cycle at run time.
import assert from 'node:assert/strict';
import { type Dirent, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SOURCE_DIRS = [
  'api',
  'sdk',
  'nsmgr',
  'forwarder',
  'registry',
  'vl3-ipam',
  'examples',
  'bench',
  'cluster',
  'webhook',
  'test',
];
/** Product code: may not import anything under test/. */
const PRODUCT_DIRS = SOURCE_DIRS.filter((d) => d !== 'test');

function sources(dir: string): string[] {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries.flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return e.name === 'node_modules' ? [] : sources(p);
    return e.name.endsWith('.ts') && !e.name.endsWith('.d.ts') ? [p] : [];
  });
}

/** Relative value imports and re-exports of one file, as resolved .ts paths. */
function valueImports(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const out: string[] = [];
  const re = /^\s*(import|export)\s+(type\s+)?([^'";]*?\s+from\s+)?['"](\.{1,2}\/[^'"]+)['"]/gm;
  for (const m of text.matchAll(re)) {
    if (m[2]) continue; // import type / export type
    const clause = m[3] ?? '';
    // `import { type A, type B } from` is erased too.
    const names = /\{([^}]*)\}/.exec(clause)?.[1];
    if (names !== undefined && !/^\s*\w+\s*,|^\s*\*/.test(clause)) {
      const parts = names
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean);
      if (parts.length > 0 && parts.every((p) => p.startsWith('type '))) continue;
    }
    out.push(resolve(dirname(file), m[4].replace(/\.js$/, '.ts')));
  }
  return out;
}

function findCycle(graph: Map<string, string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): string[] | undefined => {
    if (state.get(n) === 'done') return undefined;
    if (state.get(n) === 'visiting') return [...stack.slice(stack.indexOf(n)), n];
    state.set(n, 'visiting');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      const c = graph.has(m) ? visit(m) : undefined;
      if (c) return c;
    }
    stack.pop();
    state.set(n, 'done');
    return undefined;
  };
  for (const n of graph.keys()) {
    const c = visit(n);
    if (c) return c;
  }
  return undefined;
}

describe('import graph', () => {
  const files = SOURCE_DIRS.flatMap((d) => sources(join(ROOT, d)));
  const graph = new Map(files.map((f) => [f, valueImports(f)]));

  it('reads the sources', () => {
    assert.ok(files.length > 100, `only ${files.length} source files found under ${ROOT}`);
  });

  it('has no import cycles', () => {
    const cycle = findCycle(graph);
    assert.equal(cycle, undefined, `import cycle: ${cycle?.map((f) => relative(ROOT, f)).join(' -> ')}`);
  });

  it('keeps product code out of test/', () => {
    const testDir = join(ROOT, 'test');
    const bad = [...graph]
      .filter(([f]) => PRODUCT_DIRS.some((d) => f.startsWith(join(ROOT, d))) && !f.endsWith('.test.ts'))
      .flatMap(([f, deps]) =>
        deps.filter((d) => d.startsWith(testDir)).map((d) => `${relative(ROOT, f)} -> ${relative(ROOT, d)}`),
      );
    assert.deepEqual(bad, []);
  });

  it('detects a cycle when there is one', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
    ]);
    assert.deepEqual(findCycle(g), ['a', 'b', 'c', 'a']);
  });
});
