// Every reported figure, derived from the raw data in one place: its baseline (measured in the same
// run), the ratio to it, and the target from the issue. Targets are goals: a missed one is reported,
// never a failure of the run.
import type { BenchData, HealData, PathLatency } from './context.js';
import { type Figure, finite, ge, le, ratio } from './figure.js';
import { chainRows } from './figures-chain.js';
import { l7Rows } from './figures-l7.js';
import { observabilityRows } from './figures-observability.js';
import { scaleRows } from './figures-scale.js';
import { vl3Rows } from './figures-vl3.js';
import { median, type Summary } from './stats.js';

export function deriveFigures(d: BenchData): Figure[] {
  const out: Figure[] = [];
  const add = (f: Figure) => {
    f.value = finite(f.value);
    if (f.baseline && f.ratio === undefined) f.ratio = ratio(f.value, f.baseline.value);
    out.push(f);
  };
  const cniNet = (s: Summary | undefined, k: 'p50' | 'p90' | 'p99') =>
    s && d.cni ? s[k] - d.cni.execOverhead.p50 : undefined;

  // 1. Setup latency
  const lat = d.latency;
  const pathRows = (label: string, p: PathLatency | undefined, p50Target: number, p99Target?: number) => {
    if (!p) return;
    const section = `Setup latency (sequential, n=${p.setup.n})`;
    for (const k of ['p50', 'p90', 'p99'] as const) {
      const target = k === 'p50' ? p50Target : k === 'p99' ? p99Target : undefined;
      const base = d.cni?.add[k];
      add({
        section,
        name: `${label} setup ${k}`,
        value: p.setup[k],
        unit: 'ms',
        baseline:
          base === undefined ? undefined : { label: `CNI ptp ADD ${k}, whole exec`, value: base, unit: 'ms' },
        target: target === undefined ? undefined : `≤ ${target} ms`,
        met: target === undefined ? undefined : le(p.setup[k], target),
      });
    }
    for (const k of ['p50', 'p90', 'p99'] as const) {
      const base = d.cni?.del[k];
      add({
        section,
        name: `${label} close ${k}`,
        value: p.close[k],
        unit: 'ms',
        baseline:
          base === undefined ? undefined : { label: `CNI ptp DEL ${k}, whole exec`, value: base, unit: 'ms' },
      });
    }
    if (p.failures > 0 || p.verifyProblem) {
      add({
        section,
        name: `${label}: failures / interface check`,
        unit: '',
        text: `${p.failures} failed; ${p.verifyProblem ?? `interface + address verified on ${p.verified} samples`}`,
      });
    } else {
      add({
        section,
        name: `${label}: interface check`,
        unit: '',
        text: `nsm-1 + address found in the pod on ${p.verified} sampled connections; 0 failures`,
      });
    }
  };
  pathRows('Local', lat?.local, 20, 60);
  pathRows('Remote', lat?.remote, 40);

  // 6. The CNI baseline (next to latency: it is the setup baseline)
  if (d.cni) {
    const section = `Baseline: CNI ptp + host-local (n=${d.cni.add.n}, ${d.cni.pluginVersion})`;
    for (const k of ['p50', 'p99'] as const) {
      add({
        section,
        name: `CNI ptp ADD ${k} (whole exec, what a runtime pays)`,
        value: d.cni.add[k],
        unit: 'ms',
      });
    }
    for (const k of ['p50', 'p99'] as const) {
      add({
        section,
        name: `CNI ptp ADD ${k} (net of nsenter)`,
        value: cniNet(d.cni.add, k),
        unit: 'ms',
      });
    }
    for (const k of ['p50', 'p99'] as const) {
      add({
        section,
        name: `CNI ptp DEL ${k} (net of nsenter)`,
        value: cniNet(d.cni.del, k),
        unit: 'ms',
      });
    }
    add({
      section,
      name: '`nsenter --net` exec overhead p50 (subtracted above)',
      value: d.cni.execOverhead.p50,
      unit: 'ms',
    });
    if (d.cni.floor) {
      add({
        section,
        name: 'iproute2 floor p50 (same veth + address + route work by hand, 2 processes)',
        value: d.cni.floor.p50,
        unit: 'ms',
      });
    }
    if (d.cni.concurrent) {
      const c = d.cni.concurrent;
      add({
        section,
        name: `CNI ptp ADD ${c.n} at once: attachments/s (p99 ${c.add.p99.toFixed(0)} ms)`,
        value: c.perSecond,
        unit: '/s',
        note: c.ok < c.n ? `${c.n - c.ok} failed` : undefined,
      });
    }
    if (lat?.local) {
      const rows: [string, number | undefined, number][] = [
        ['Local setup p50 ÷ CNI ptp ADD p50 (whole exec)', ratio(lat.local.setup.p50, d.cni.add.p50), 1.0],
        ['Local setup p50 ÷ iproute2 floor p50', ratio(lat.local.setup.p50, d.cni.floor?.p50), 1.5],
        ['Local setup p99 ÷ CNI ptp ADD p99 (whole exec)', ratio(lat.local.setup.p99, d.cni.add.p99), 1.2],
      ];
      for (const [name, r, max] of rows) {
        add({ section, name, value: r, unit: '×', target: `≤ ${max.toFixed(1)}`, met: le(r, max) });
      }
      add({
        section,
        name: 'Local setup p50 ÷ CNI ptp ADD p50 (net of nsenter)',
        value: ratio(lat.local.setup.p50, cniNet(d.cni.add, 'p50')),
        unit: '×',
      });
    }
    if (d.cni.failures > 0 || d.cni.verifyProblem) {
      add({
        section,
        name: 'CNI failures / interface check',
        unit: '',
        text: `${d.cni.failures} failed; ${d.cni.verifyProblem ?? 'ok'}`,
      });
    }
  }

  // 2. Concurrency
  const seqRate = lat?.local ? 1000 / lat.local.setup.mean : undefined;
  const cniMany = d.cni?.concurrent;
  for (const r of d.concurrency ?? []) {
    const section = 'Concurrency (local path, distinct pods, all requests at once)';
    const vsCni = cniMany?.n === r.concurrent;
    add({
      section,
      name: `${r.concurrent} at once: connections/s`,
      value: r.perSecond,
      unit: '/s',
      baseline: vsCni
        ? { label: `CNI ptp ADD ${cniMany.n} at once`, value: cniMany.perSecond, unit: '/s' }
        : seqRate === undefined
          ? undefined
          : { label: 'sequential local', value: seqRate, unit: '/s' },
      target: vsCni ? '≥ 1.0× CNI' : r.concurrent === 200 ? '≥ 100/s' : undefined,
      met: vsCni
        ? ge(ratio(r.perSecond, cniMany.perSecond), 1.0)
        : r.concurrent === 200
          ? ge(r.perSecond, 100)
          : undefined,
      note: r.failures ? `${r.failures} of ${r.concurrent} failed` : undefined,
    });
    if (r.failures > 0 || r.leftoverEndpointLinks > 0 || r.leftoverClientLinks > 0) {
      add({
        section,
        name: `${r.concurrent} at once: left behind by the ${r.failures} failed requests`,
        unit: '',
        text: `${r.leftoverEndpointLinks} endpoint-side links, ${r.leftoverClientLinks} pods with nsm-1`,
        target: '0',
        met: r.leftoverEndpointLinks === 0 && r.leftoverClientLinks === 0,
      });
    }
    add({
      section,
      name: `${r.concurrent} at once: setup p99`,
      value: r.setup.p99,
      unit: 'ms',
      baseline: vsCni
        ? { label: `CNI ptp ADD ${cniMany.n} at once p99`, value: cniMany.add.p99, unit: 'ms' }
        : lat?.local
          ? { label: 'sequential local p99', value: lat.local.setup.p99, unit: 'ms' }
          : undefined,
    });
  }

  // 3. Scale
  if (d.scale) scaleRows(d.scale, lat?.local, add);
  if (d.chain) chainRows(d.chain, add);
  if (d.l7) l7Rows(d.l7, add);
  if (d.vl3) vl3Rows(d.vl3, add);

  // 4. Data plane
  const dp = d.dataplane;
  if (dp) {
    const section = 'Data plane (iperf3 TCP, 1 stream; UDP echo RTT)';
    const gbps = (k: keyof typeof dp.throughput) => median(dp.throughput[k].gbps);
    add({
      section,
      name: 'Local TCP throughput',
      value: gbps('local'),
      unit: 'Gbit/s',
      baseline: { label: 'raw veth pair', value: gbps('rawVeth'), unit: 'Gbit/s' },
      target: '≥ 0.95 × raw',
      met: ge(ratio(gbps('local'), gbps('rawVeth')), 0.95),
    });
    add({
      section,
      name: 'Remote TCP throughput',
      value: gbps('remote'),
      unit: 'Gbit/s',
      baseline: { label: 'raw VXLAN netdevs', value: gbps('rawVxlan'), unit: 'Gbit/s' },
      target: '≥ 0.95 × raw',
      met: ge(ratio(gbps('remote'), gbps('rawVxlan')), 0.95),
    });
    for (const k of ['p50Us', 'p99Us'] as const) {
      add({
        section,
        name: `Local RTT ${k.slice(0, 3)}`,
        value: dp.rtt.local[k],
        unit: 'µs',
        baseline: { label: 'raw veth pair', value: dp.rtt.rawVeth[k], unit: 'µs' },
      });
    }
    for (const k of ['p50Us', 'p99Us'] as const) {
      add({
        section,
        name: `Remote RTT ${k.slice(0, 3)}`,
        value: dp.rtt.remote[k],
        unit: 'µs',
        baseline: { label: 'raw VXLAN netdevs', value: dp.rtt.rawVxlan[k], unit: 'µs' },
      });
    }
  }

  // 5. Heal
  if (d.heal) healRows(d.heal, add);
  if (d.observability) observabilityRows(d.observability, d.latency?.local, add);
  return out;
}

function healRows(h: HealData, add: (f: Figure) => void): void {
  const section = 'Heal';
  const e = h.endpointDeath;
  if (e) {
    add({
      section,
      name: 'Traffic restored after endpoint death (reselect)',
      value: e.restored ? e.restoredAfterMs : undefined,
      unit: 'ms',
      text: e.restored ? undefined : `no recovery within ${(e.waitedMs / 1000).toFixed(0)} s`,
      target: '< 1000 ms',
      met: e.restored ? le(e.restoredAfterMs, 1000) : false,
      note: e.note,
    });
  }
  for (const f of h.forwarderKill) {
    add({
      section,
      name: `Packets lost, ${f.killed === 'nodeagent' ? 'nodeagent (nsmgr + forwarder)' : 'forwarder'} kill -9 (${f.path}, ${f.node})`,
      value: f.lost,
      unit: 'pkts',
      text: `${f.lost} of ${f.phases.reduce((a, p) => a + p.sent, 0)} (longest gap ${f.maxGapMs} ms)`,
      target: '0',
      met: f.lost === 0,
      note: f.note,
    });
  }
}
