// The chain part's figures (see figures.ts for how figures are built): 4-hop setup, TCP throughput
// through one passthrough and through the firewall against a direct connection, heal after kill -9.
import type { ChainData } from './context.js';
import { type Figure, ge, le, ratio } from './figure.js';
import { median } from './stats.js';

export function chainRows(c: ChainData, add: (f: Figure) => void): void {
  const section = 'CNF chaining (issue 11)';
  if (c.setup) {
    add({
      section,
      name: `4-hop chain setup p50 (n=${c.setup.n}, VXLAN on every hop)`,
      value: c.setup.p50,
      unit: 'ms',
      target: '≤ 120 ms',
      met: le(c.setup.p50, 120),
      note: `p90 ${c.setup.p90.toFixed(1)} ms; ${c.hops ?? ''}${c.failures ? `; ${c.failures} failed` : ''}`,
    });
  }
  const direct = c.throughputGbps.direct.length ? median(c.throughputGbps.direct) : undefined;
  const rows = [
    ['passthrough', 'TCP through one passthrough', 0.8],
    ['firewall', 'TCP through the firewall (10 rules)', 0.7],
  ] as const;
  for (const [key, name, min] of rows) {
    const xs = c.throughputGbps[key];
    if (xs.length === 0) continue;
    const v = median(xs);
    const r = ratio(v, direct);
    add({
      section,
      name,
      value: v,
      unit: 'Gbit/s',
      baseline:
        direct === undefined
          ? undefined
          : { label: 'direct, same node, same run', value: direct, unit: 'Gbit/s' },
      target: `≥ ${min}× direct`,
      met: r === undefined ? undefined : ge(r, min),
    });
  }
  for (const [key, name] of [
    ['l2-bridge', 'TCP, ETHERNET payload, passthrough joined by a bridge'],
    ['l2-mirred', 'TCP, ETHERNET payload, passthrough joined by tc mirred'],
  ] as const) {
    const xs = c.throughputGbps[key];
    if (xs.length === 0) continue;
    add({
      section,
      name,
      value: median(xs),
      unit: 'Gbit/s',
      baseline:
        direct === undefined ? undefined : { label: 'direct (IP), same run', value: direct, unit: 'Gbit/s' },
    });
  }
  add({
    section,
    name: 'Heal after kill -9 of a CNF (traffic through its replica)',
    value: c.healMs,
    unit: 'ms',
    text: c.healMs === undefined ? (c.healNote ?? 'not measured') : undefined,
    target: '≤ 1000 ms',
    met: le(c.healMs, 1000),
  });
}
