// The scale part's figures (see figures.ts for how figures are built): live connections, fill rate,
// setup at full scale against few pods, memory (VmHWM, RSS spread, snapshots) and CPU per connection.
import type { DaemonSnapshot, PathLatency, ScaleData } from './context.js';
import { type Figure, ge, le, ratio, sum } from './figure.js';

export function scaleRows(s: ScaleData, local: PathLatency | undefined, add: (f: Figure) => void): void {
  const section = `Scale (node2: ${s.target} pods, local connections)`;
  add({
    section,
    name: 'Live connections held on one node',
    value: s.live,
    unit: '',
    target: `≥ ${s.target}`,
    met: ge(s.live, s.target),
    note: s.failures ? `${s.failures} requests failed while filling` : undefined,
  });
  add({
    section,
    name: `Fill rate (${s.target} requests, ${s.parallel} in flight)`,
    value: s.fillPerSecond,
    unit: '/s',
  });
  for (const k of ['p50', 'p99'] as const) {
    add({
      section,
      name: `Setup ${k} of ${s.extra.n} more at ${s.live} live`,
      value: s.extra[k],
      unit: 'ms',
      baseline: local ? { label: `sequential local ${k}`, value: local.setup[k], unit: 'ms' } : undefined,
    });
  }
  if (s.few) {
    const at = (st: { namedNetns: number; mountEntries: number } | undefined) =>
      st ? `${st.namedNetns} named netns, ${st.mountEntries} mount entries` : '?';
    const few = s.few;
    const baseline = {
      label: `${few.pods} pods (${at(few.state)})${few.before && few.after ? `, before filling / after emptying: ${few.before.p50.toFixed(1)} / ${few.after.p50.toFixed(1)} ms` : ''}`,
      value: few.setup.p50,
      unit: 'ms',
    };
    if (s.manyPods) {
      add({
        section,
        name: `Setup p50 with ${s.manyPods.pods} pods, no live connections (${at(s.manyPods.state)})`,
        value: s.manyPods.setup.p50,
        unit: 'ms',
        baseline,
        target: '≤ 1.2×',
        met: le(ratio(s.manyPods.setup.p50, few.setup.p50), 1.2),
      });
    }
    add({
      section,
      name: `Setup p50 with ${s.live} pods + live connections (${at(s.fullState)})`,
      value: s.extra.p50,
      unit: 'ms',
      baseline,
      ...(s.manyPods ? {} : { target: '≤ 1.2×', met: le(ratio(s.extra.p50, few.setup.p50), 1.2) }),
    });
  }

  if (s.memory) {
    const m = s.memory;
    add({
      section,
      name:
        m.forwarderHwmMiB === undefined
          ? 'nsmgr + forwarder peak RSS (VmHWM of the one nodeagent process)'
          : `nsmgr + forwarder peak RSS (VmHWM: nsmgr ${m.nsmgrHwmMiB.toFixed(0)} + forwarder ${m.forwarderHwmMiB.toFixed(0)})`,
      value: m.pairHwmMiB,
      unit: 'MiB',
      target: '≤ 150 MiB',
      met: le(m.pairHwmMiB, 150),
    });
    add({
      section,
      name: `nsmgr + forwarder RSS over the part (${m.samples} samples, every 500 ms): min / median / max`,
      unit: '',
      text: `${m.pairMinMiB.toFixed(0)} / ${m.pairMedianMiB.toFixed(0)} / ${m.pairMaxMiB.toFixed(0)} MiB`,
    });
  }
  const idle = s.snapshots.find((x) => x.label === 'idle');
  const full = s.snapshots.find((x) => x.label === 'at full scale');
  const after = s.snapshots.find((x) => x.label === 'after closing all');
  const rss = (x: DaemonSnapshot | undefined, k: 'nsmgr' | 'forwarder' | 'registry') => x?.[k]?.rssMiB;
  const oneProcess = idle?.nodeagent === true;
  const who = (k: 'nsmgr' | 'forwarder' | 'registry') =>
    k === 'nsmgr' && oneProcess ? 'nodeagent (nsmgr + forwarder)' : k;
  for (const k of ['nsmgr', 'forwarder', 'registry'] as const) {
    if (k === 'forwarder' && oneProcess) continue;
    for (const [label, snap] of [
      [`at ${s.live}`, full],
      ['after closing all', after],
    ] as const) {
      const v = rss(snap, k);
      add({
        section,
        name: `${who(k)} RSS ${label}`,
        value: v,
        unit: 'MiB',
        baseline:
          rss(idle, k) === undefined ? undefined : { label: 'idle', value: rss(idle, k)!, unit: 'MiB' },
      });
    }
  }
  const pair = (x: DaemonSnapshot | undefined) =>
    x?.nodeagent ? rss(x, 'nsmgr') : sum(rss(x, 'nsmgr'), rss(x, 'forwarder'));
  add({
    section,
    name: `nsmgr + forwarder RSS at ${s.live}`,
    value: pair(full),
    unit: 'MiB',
    baseline: pair(idle) === undefined ? undefined : { label: 'idle', value: pair(idle)!, unit: 'MiB' },
    target: '≤ 150 MB (143 MiB)',
    met: le(pair(full), 150e6 / 2 ** 20),
  });
  const back = ratio(pair(after), pair(idle));
  add({
    section,
    name: 'nsmgr + forwarder RSS after closing all',
    value: pair(after),
    unit: 'MiB',
    baseline: pair(idle) === undefined ? undefined : { label: 'idle', value: pair(idle)!, unit: 'MiB' },
    target: '≤ 1.10 × idle',
    met: le(back, 1.1),
  });
  const cpu = (x: DaemonSnapshot | undefined, k: 'nsmgr' | 'forwarder' | 'registry') =>
    x?.[k] === undefined ? undefined : x[k]!.cpuS + x[k]!.childCpuS;
  for (const k of ['nsmgr', 'forwarder', 'registry'] as const) {
    if (k === 'forwarder' && oneProcess) continue;
    const spent = ratio(sum(cpu(full, k), -(cpu(idle, k) ?? 0)), 1);
    add({
      section,
      name: `${who(k)} CPU per connection set up (own + reaped children)`,
      value: spent === undefined ? undefined : (spent * 1000) / Math.max(1, s.live),
      unit: 'ms',
    });
  }
  const g = s.nsmctlGet;
  if (g) {
    add({
      section,
      name: `nsmctl get connections at ${g.held} connections (p50 of ${g.wall.n} runs, whole command)`,
      value: g.wall.p50,
      unit: 'ms',
      target: '≤ 300 ms',
      met: le(g.wall.p50, 300),
      note:
        `${g.listed} listed; CPU ${g.cpu ? `${g.cpu.p50.toFixed(0)} ms p50` : '?'}; ` +
        `load ${g.loadBefore.toFixed(1)} → ${g.loadAfter.toFixed(1)}`,
    });
  }
  if (s.leftoverLinks > 0) {
    add({
      section,
      name: 'Links left in endpoint namespaces after closing all',
      value: s.leftoverLinks,
      unit: '',
      target: '0',
      met: false,
    });
  }
}
