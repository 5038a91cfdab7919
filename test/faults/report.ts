// `npm run faults`: runs every cell of the fault matrix (matrix.ts) on its own sandbox, plus the
// churn scenario, and writes bench/results/faults.md (the table the README links to) and
// bench/results/faults.json (every measurement, the timelines and the stream counters).
//
//   node dist/test/faults/report.js [--only=SUBSTRING] [--no-churn] [--out=DIR]
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDuration } from '../../sdk/tools/config/types.js';
import { resetPool } from '../e2e/helpers.js';
import { type ChurnResult, runChurn } from './churn.js';
import { type Cell, type CellResult, closeOpenSandboxes, matrix, runCell } from './matrix.js';
import { FAULT_ENV, STREAM_INTERVAL_MS } from './timing.js';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const args = process.argv.slice(2);
const arg = (name: string) => args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const only = arg('only');
const outDir = arg('out') ?? join(ROOT, 'bench', 'results');
const withChurn = !args.includes('--no-churn');
const lifetimeMs = parseDuration(FAULT_ENV.NSM_MAX_TOKEN_LIFETIME);
const startLoad = loadavg()
  .map((l) => l.toFixed(1))
  .join(' ');

function say(line = ''): void {
  process.stdout.write(`${line}\n`);
}

/** The target the issue sets for a cell, and whether the measurement meets it. */
export function verdict(r: CellResult): { target: string; met: boolean; why: string[] } {
  const c = r.cell;
  const why: string[] = [];
  let target: string;
  switch (c.fault) {
    case 'forwarder':
    case 'nsmgr':
    case 'registry':
      target = '0 lost';
      if (r.lost !== 0) why.push(`${r.lost ?? '?'} lost`);
      break;
    case 'endpoint':
      target = 'restored ≤ 1000 ms';
      if (r.restoreMs === null) why.push('not restored');
      else if (r.restoreMs > 1000) why.push(`restored after ${r.restoreMs} ms`);
      break;
    case 'client':
      target = `interfaces gone ≤ ${lifetimeMs} ms (token lifetime)`;
      if (r.cleanupMs === null) why.push('interfaces not removed');
      else if (r.cleanupMs > lifetimeMs) why.push(`removed after ${r.cleanupMs} ms`);
      break;
    case 'dataplane-interrupt':
      target = 'restored by heal';
      if (r.restoreMs === null) why.push('not restored');
      break;
    case 'orphan':
      target = 'removed after the grace period';
      if (r.cleanupMs === null) why.push('interfaces not removed');
      break;
  }
  if (r.leaked.length > 0) why.push(`${r.leaked.length} leaked`);
  const other = r.failures.filter((f) => !/datagrams lost \(promise|leaked kernel objects/.test(f));
  for (const f of other) why.push(f.split(':')[0].slice(0, 80));
  return { target, met: why.length === 0, why };
}

function faultLabel(c: Cell): string {
  const side = c.id.includes('@') ? ` (${c.side}-side node)` : '';
  return `${c.fault}${side}`;
}

const dash = '—';
const num = (v: number | null) => (v === null ? dash : String(v));
const yesNo = (v: boolean | null, promised: boolean) =>
  v === null ? dash : v ? 'yes' : promised ? '**no**' : 'no (not promised)';

function markdown(
  results: CellResult[],
  churn: ChurnResult | undefined,
  startedAt: Date,
  ms: number,
): string {
  const lines: string[] = [];
  lines.push('# Fault report');
  lines.push('');
  lines.push(
    `Produced by \`npm run faults\` (test/faults/report.ts) on ${startedAt.toISOString()} in ${(ms / 1000).toFixed(0)} s; ` +
      `${cpus().length} CPUs, ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load average ${startLoad} at the start and ${loadavg()
        .map((l) => l.toFixed(1))
        .join(' ')} at the end. The same scenarios run as tests in ` +
      '`npm test` (test/faults/faults.test.ts), which assert the promises but no times.',
  );
  lines.push('');
  lines.push(
    'Each cell runs on a fresh sandbox (2 nodes; endpoints nse-a and nse-b of one service on node2;',
  );
  lines.push(
    'the client pod on node2 for **local** connections, on node1 for **remote** ones). During the fault',
  );
  lines.push(
    `a UDP stream runs over the connection: one numbered datagram every ${STREAM_INTERVAL_MS} ms from the client pod to an echo`,
  );
  lines.push(
    'server behind the endpoint, and back. Daemon faults are `kill -9`; the forwarder, nsmgr and registry are',
  );
  lines.push('restarted at once, the endpoint and the client are not. Environment of every daemon:');
  lines.push(
    `${Object.entries(FAULT_ENV)
      .map(([k, v]) => `\`${k}=${v}\``)
      .join(', ')} (the liveness values are the nsc's defaults).`,
  );
  lines.push('');
  lines.push(
    '- **lost**: datagrams sent after the fault and never answered. The sender itself is a Node process on a shared',
  );
  lines.push(
    '  machine; when it is starved it sends less, so **no traffic** is the more robust figure under load.',
  );
  lines.push(
    '- **no traffic**: total time without any reply, over the outages (periods with lost datagrams) after the fault.',
  );
  lines.push(
    '- **restored after**: from the fault to the first reply after the last outage (0: never interrupted).',
  );
  lines.push(
    '- **removed after**: client death and orphans: from the kill until every interface of the connection is gone.',
  );
  lines.push(
    '- **addresses kept / interfaces kept**: the same addresses / the very same links (same ifindex) on both ends.',
  );
  lines.push(
    '- **leaked**: links, addresses, routes or static neighbour entries left in any sandbox namespace after the',
  );
  lines.push('  client closed (or expired), compared with the state before the client started.');
  lines.push('');
  lines.push(
    '| connection | fault | lost | no traffic (ms) | restored after (ms) | removed after (ms) | addresses kept | interfaces kept | leaked | target | verdict |',
  );
  lines.push('| --- | --- | ---: | ---: | ---: | ---: | --- | --- | ---: | --- | --- |');
  for (const r of results) {
    const v = verdict(r);
    lines.push(
      `| ${r.cell.kind} | ${faultLabel(r.cell)} | ${num(r.lost)} | ${num(r.noTrafficMs)} | ${num(r.restoreMs)} | ${num(
        r.cleanupMs,
      )} | ${yesNo(r.addressesKept, r.cell.addressesKept)} | ${yesNo(r.interfacesKept, r.cell.interfacesKept)} | ${r.leaked.length} | ${v.target} | ${
        v.met ? 'met' : `**missed**: ${v.why.join(', ')}`
      } |`,
    );
  }
  if (churn) {
    const held = Object.entries(churn.held).filter(([, n]) => n !== 0);
    lines.push('');
    lines.push('## Churn');
    lines.push('');
    lines.push(
      '| request/close cycles | failed | leaked objects | connections still held | time (s) | verdict |',
    );
    lines.push('| --- | ---: | ---: | --- | ---: | --- |');
    const ok = churn.failedRequests.length === 0 && churn.leaked.length === 0 && held.length === 0;
    lines.push(
      `| ${churn.sequential} sequential + ${churn.concurrent} concurrent, local and remote alternating | ${
        churn.failedRequests.length
      } | ${churn.leaked.length} | ${held.length ? held.map(([d, n]) => `${d}: ${n}`).join(', ') : 'none'} | ${(
        churn.ms / 1000
      ).toFixed(1)} | ${ok ? 'met' : '**missed**'} |`,
    );
  }
  const broken = results.filter((r) => r.failures.length > 0);
  if (broken.length > 0 || (churn && (churn.failedRequests.length > 0 || churn.leaked.length > 0))) {
    lines.push('');
    lines.push('## Broken promises');
    lines.push('');
    for (const r of broken) {
      lines.push(`- **${r.cell.id}** (${r.cell.description}):`);
      for (const f of r.failures) lines.push(`  - ${f.length > 600 ? `${f.slice(0, 600)}…` : f}`);
    }
    if (churn) {
      for (const f of churn.failedRequests.slice(0, 5)) lines.push(`- churn: ${f}`);
      if (churn.leaked.length > 0) lines.push(`- churn leaked: ${churn.leaked.slice(0, 10).join('; ')}`);
    }
  }
  lines.push('');
  lines.push("Every measurement, with each cell's timeline and stream counters: [faults.json](faults.json).");
  lines.push('');
  return lines.join('\n');
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    process.stderr.write('faults: run as root (it creates network namespaces)\n');
    process.exit(2);
  }
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      say(`\n${sig}: closing the open sandbox ...`);
      void closeOpenSandboxes().finally(() => process.exit(130));
    });
  }
  const startedAt = new Date();
  const cells = matrix().filter((c) => !only || c.id.includes(only));
  mkdirSync(outDir, { recursive: true });
  const results: CellResult[] = [];
  let churn: ChurnResult | undefined;
  const write = () => {
    const ms = Date.now() - startedAt.getTime();
    writeFileSync(join(outDir, 'faults.md'), markdown(results, churn, startedAt, ms));
    writeFileSync(
      join(outDir, 'faults.json'),
      `${JSON.stringify({ startedAt: startedAt.toISOString(), env: FAULT_ENV, results, churn }, null, 2)}\n`,
    );
  };
  for (const c of cells) {
    say(`${c.id}: ${c.description}`);
    const r = await runCell(c, { log: say });
    results.push(r);
    const v = verdict(r);
    say(
      `${c.id}: lost ${num(r.lost)}, no traffic ${num(r.noTrafficMs)} ms, restored after ${num(r.restoreMs)} ms, removed after ${num(
        r.cleanupMs,
      )} ms, leaked ${r.leaked.length} -> ${v.met ? 'met' : `missed (${v.why.join(', ')})`}`,
    );
    write();
  }
  if (withChurn && (!only || 'churn'.includes(only))) {
    say('churn: 100 sequential + 30 concurrent request/close cycles');
    churn = await runChurn({ sequential: 100, concurrent: 30, log: say });
    say(
      `churn: failed ${churn.failedRequests.length}, leaked ${churn.leaked.length}, held ${JSON.stringify(churn.held)}`,
    );
    write();
  }
  write();
  resetPool();
  say(`wrote ${join(outDir, 'faults.md')} and faults.json`);
  process.exit(0);
}

await main();
