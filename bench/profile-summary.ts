// Summarises V8 CPU profiles written by `npm run bench -- --profile` (daemons started with
// --cpu-prof): `node dist/bench/profile-summary.js FILE.cpuprofile [TOP]` prints the functions with
// the most self time, and the most inclusive time (what they and their callees cost).
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
}

function label(n: Node): string {
  const f = n.callFrame;
  const where = f.url ? `${basename(f.url.replace(/^file:\/\//, ''))}:${f.lineNumber + 1}` : '';
  return `${f.functionName || '(anonymous)'} ${where}`.trim();
}

function summarise(file: string, top: number): void {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const selfUs = new Map<number, number>();
  for (const [i, id] of p.samples.entries()) selfUs.set(id, (selfUs.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
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

const [file, topText] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: node dist/bench/profile-summary.js FILE.cpuprofile [TOP]\n');
  process.exit(2);
}
summarise(file, Number(topText ?? 25));
