// Summarises V8 CPU profiles written by `npm run bench -- --profile` (daemons started with
// --cpu-prof): `node dist/bench/profile-summary.js FILE.cpuprofile [TOP] [FROM_MS TO_MS]` prints the
// functions with the most self time, and the most inclusive time (what they and their callees cost).
// FROM_MS and TO_MS (epoch milliseconds, as in the daemons' logs) keep only the samples taken
// between them: the hook stores an anchor that maps V8's monotonic sample times to epoch time.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
  /** Written by cpu-profile-hook.ts: one instant on both clocks. */
  anchor?: { epochMs: number; monotonicUs: number };
}

/** Epoch milliseconds to keep samples between; undefined keeps all. */
type Window = { fromMs: number; toMs: number } | undefined;

function label(n: Node): string {
  const f = n.callFrame;
  const where = f.url ? `${basename(f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

function summarise(file: string, top: number, window: Window): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  if (window && !p.anchor) throw new Error(`${file} has no clock anchor (written before the hook had one)`);
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  let at = p.startTime;
  for (const [i, id] of p.samples.entries()) {
    at += p.timeDeltas[i] ?? 0;
    if (window && p.anchor) {
      const epochMs = p.anchor.epochMs + (at - p.anchor.monotonicUs) / 1000;
      if (epochMs < window.fromMs || epochMs > window.toMs) continue;
    }
    selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  }
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  let total = 0;
  let idle = 0;
  for (const [id, us] of selfUs) {
    const n = byId.get(id)!;
    total += us;
    if (n.callFrame.functionName === '(idle)') {
      idle += us;
      continue;
    }
    self.set(label(n), (self.get(label(n)) ?? 0) + us);
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const l = label(byId.get(cur)!);
      if (seen.has(l)) continue;
      seen.add(l);
      incl.set(l, (incl.get(l) ?? 0) + us);
    }
  }
  const busy = total - idle;
  const ms = (us: number) =>
    `${(us / 1000).toFixed(0).padStart(7)} ms ${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  process.stdout.write(
    `${file}\n  wall ${((p.endTime - p.startTime) / 1e6).toFixed(1)} s, busy ${(busy / 1e6).toFixed(2)} s\n  self time:\n`,
  );
  for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`  ${ms(us)}  ${l}\n`);
  process.stdout.write('  inclusive time:\n');
  for (const [l, us] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`  ${ms(us)}  ${l}\n`);
}

const [file, topText, fromText, toText] = process.argv.slice(2);
if (!file || (fromText !== undefined && !(Number(fromText) < Number(toText)))) {
  process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP] [FROM_MS TO_MS]\n');
  process.exit(2);
}
summarise(
  file,
  Number(topText ?? 25),
  fromText === undefined ? undefined : { fromMs: Number(fromText), toMs: Number(toText) },
);
