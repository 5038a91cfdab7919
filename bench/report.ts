// latest.json (everything: options, machine, raw data, figures) and latest.md (the table).
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, hostname, loadavg, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { BenchContext, DaemonSnapshot } from './context.js';
import type { Figure } from './figure.js';
import { deriveFigures } from './figures.js';
import type { Mesh } from './mesh.js';
import { sampleProc } from './procstat.js';
import { median, sleep } from './stats.js';

/** RSS and CPU of the scale node's nsmgr and forwarder (node2) and of the registry, sampled once. */
export function snapshot(mesh: Mesh, label: string, liveConnections: number): DaemonSnapshot {
  const pids = mesh.daemonPids(mesh.node2);
  const s = (pid: number | undefined) => (pid === undefined || pid < 0 ? undefined : sampleProc(pid));
  return {
    label,
    liveConnections,
    nsmgr: s(pids.nsmgr),
    forwarder: s(pids.forwarder),
    registry: s(pids.registry),
    ...(pids.nodeagent ? { nodeagent: true } : {}),
  };
}

/**
 * A snapshot whose RSS is the median of `samples` readings `intervalMs` apart (a single reading
 * swings by tens of MiB with the garbage collector's timing); CPU is from the last reading.
 */
export async function settledSnapshot(
  mesh: Mesh,
  label: string,
  liveConnections: number,
  samples = 5,
  intervalMs = 1000,
): Promise<DaemonSnapshot> {
  const taken: DaemonSnapshot[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(intervalMs);
    taken.push(snapshot(mesh, label, liveConnections));
  }
  const last = taken[taken.length - 1];
  const settle = (k: 'nsmgr' | 'forwarder' | 'registry') => {
    const l = last[k];
    if (!l) return undefined;
    return { ...l, rssMiB: median(taken.map((t) => t[k]?.rssMiB ?? Number.NaN)) };
  };
  return { ...last, nsmgr: settle('nsmgr'), forwarder: settle('forwarder'), registry: settle('registry') };
}

/** The source tree (this file runs from dist/bench). */
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

function git(args: string[]): string {
  try {
    return execFileSync('git', args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return '';
  }
}

export function machine() {
  const c = cpus();
  return {
    loadAverage1m: Number(loadavg()[0].toFixed(2)),
    hostname: hostname(),
    cpu: `${c.length} × ${c[0]?.model.trim() ?? 'unknown'}`,
    memoryGiB: Number((totalmem() / 2 ** 30).toFixed(1)),
    kernel: release(),
    node: process.version,
  };
}

function commit(): string {
  const head = git(['rev-parse', '--short=12', 'HEAD']) || 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']) !== '';
  return dirty ? `${head} (with uncommitted changes)` : head;
}

function fmt(v: number | undefined, unit: string): string {
  if (v === undefined || !Number.isFinite(v)) return '—';
  const digits = Math.abs(v) >= 100 ? 0 : Math.abs(v) >= 10 ? 1 : 2;
  const n = v.toFixed(digits);
  if (unit === '×') return `${n}×`;
  return unit ? `${n} ${unit}` : n;
}

function cell(f: Figure): string[] {
  const value = f.text ?? fmt(f.value, f.unit);
  const base = f.baseline ? `${fmt(f.baseline.value, f.baseline.unit)} (${f.baseline.label})` : '—';
  const ratio = f.ratio === undefined ? '—' : `${f.ratio.toFixed(2)}×`;
  const met = f.met === undefined ? '' : f.met ? '✅' : '❌';
  const note = f.note ? ` (${f.note})` : '';
  return [`${f.name}${note}`, value, base, ratio, f.target ?? '—', met];
}

function markdown(
  ctx: BenchContext,
  figures: Figure[],
  meta: { date: string; commit: string; durationS: number },
): string {
  const m = machine();
  const lines = [
    '# nsm-ts benchmark',
    '',
    `| Machine | Date | Commit | Run | Load avg (1 min) |`,
    `|---|---|---|---|---|`,
    `| ${m.cpu}, ${m.memoryGiB} GiB, Linux ${m.kernel}, Node ${m.node} (${m.hostname}) | ${meta.date} | ${meta.commit} | ${meta.durationS.toFixed(0)} s, parts: ${ctx.opts.only.join(', ')} | ${ctx.data.loadAtStart?.toFixed(1) ?? '?'} at start, ${m.loadAverage1m.toFixed(1)} at end |`,
    '',
    'Ratios are value ÷ baseline; every baseline is measured in the same run. Targets are goals, not',
    'assertions. See bench/README.md for how each figure is measured.',
  ];
  let section = '';
  for (const f of figures) {
    if (f.section !== section) {
      section = f.section;
      lines.push(
        '',
        `## ${section}`,
        '',
        '| Figure | Value | Baseline | Ratio | Target | Met |',
        '|---|---|---|---|---|---|',
      );
    }
    lines.push(`| ${cell(f).join(' | ')} |`);
  }
  const snaps = [ctx.data.startup, ...(ctx.data.scale?.snapshots ?? [])].filter(
    (x): x is DaemonSnapshot => x !== undefined,
  );
  if (snaps.length) {
    lines.push(
      '',
      '## Daemon resources (node2 nsmgr and forwarder, registry)',
      '',
      'RSS: VmRSS from /proc/PID/status, median of 5 readings 1 s apart (scale rows); peak = VmHWM so far. CPU = utime + stime from /proc/PID/stat, cumulative since start; "children" = the `ip` processes it ran and reaped.',
      ...(snaps[0].nodeagent
        ? [
            'With the nodeagent layout the nsmgr columns are the one process of nsmgr and forwarder (its children too).',
          ]
        : []),
      '',
      '| When | Live conns | nsmgr RSS (peak) | nsmgr CPU | forwarder RSS (peak) | forwarder CPU (+ children) | registry RSS (peak) | registry CPU |',
      '|---|---|---|---|---|---|---|---|',
    );
    for (const s of snaps) {
      const r = (k: 'nsmgr' | 'forwarder' | 'registry') =>
        `${fmt(s[k]?.rssMiB, 'MiB')} (${fmt(s[k]?.peakMiB, '')})`;
      const c = (k: 'nsmgr' | 'forwarder' | 'registry') => fmt(s[k]?.cpuS, 's');
      lines.push(
        `| ${s.label} | ${s.liveConnections} | ${r('nsmgr')} | ${c('nsmgr')}${s.nodeagent ? ` (+ ${fmt(s.nsmgr?.childCpuS, 's')})` : ''} | ${r('forwarder')} | ${c('forwarder')} (+ ${fmt(s.forwarder?.childCpuS, 's')}) | ${r('registry')} | ${c('registry')} |`,
      );
    }
  }
  const states = Object.entries(ctx.data.nodeState ?? {});
  if (states.length) {
    lines.push(
      '',
      '## Node state when each part started',
      '',
      'Named network namespaces on the machine (all runs, all helpers) and mount entries of the host mount namespace: `ip -n NAME` copies the mount table, so its cost grows with the second.',
      '',
      '| Part | Named netns | Mount entries |',
      '|---|---|---|',
      ...states.map(([part, st]) => `| ${part} | ${st.namedNetns} | ${st.mountEntries} |`),
    );
  }
  const conc = ctx.data.concurrency ?? [];
  if (conc.length) {
    lines.push(
      '',
      '## Concurrency details',
      '',
      '| At once | OK | Failed | Wall | Setups/s | Setup p50 | Setup p99 | Close wall | Closes/s |',
      '|---|---|---|---|---|---|---|---|---|',
    );
    for (const r of conc) {
      lines.push(
        `| ${r.concurrent} | ${r.ok} | ${r.failures} | ${fmt(r.wallMs, 'ms')} | ${fmt(r.perSecond, '')} | ${fmt(r.setup.p50, 'ms')} | ${fmt(r.setup.p99, 'ms')} | ${fmt(r.closeWallMs, 'ms')} | ${fmt(r.closePerSecond, '')} |`,
      );
    }
  }
  const heal = ctx.data.heal;
  if (heal?.forwarderKill.length) {
    lines.push('', '## Forwarder kill -9: datagrams per phase', '');
    for (const f of heal.forwarderKill) {
      lines.push(
        `- ${f.path} (${f.node}${f.killed === 'nodeagent' ? ', the nodeagent: nsmgr and forwarder' : ''}, one datagram every ${f.intervalMs} ms): ` +
          f.phases.map((p) => `${p.label}: ${p.lost} lost of ${p.sent}`).join('; ') +
          `. ${f.note}`,
      );
    }
  }
  if (ctx.errors.length) {
    lines.push('', '## Problems during the run', '', ...ctx.errors.map((e) => `- ${e.replace(/\n/g, ' ')}`));
  }
  lines.push('');
  return lines.join('\n');
}

export async function writeResults(ctx: BenchContext, durationS: number): Promise<string[]> {
  const figures = deriveFigures(ctx.data);
  const meta = { date: new Date().toISOString(), commit: commit(), durationS };
  const json = {
    ...meta,
    machine: machine(),
    options: ctx.opts,
    figures,
    data: ctx.data,
    errors: ctx.errors,
  };
  const jsonFile = join(ctx.opts.outDir, 'latest.json');
  const mdFile = join(ctx.opts.outDir, 'latest.md');
  writeFileSync(jsonFile, `${JSON.stringify(json, null, 2)}\n`);
  writeFileSync(mdFile, markdown(ctx, figures, meta));
  return [jsonFile, mdFile];
}
