// The vL3 part's figures (see figures.ts for how figures are built): a member joining a network of
// N members until reachable, name resolution through the client's DNS forwarder, replica death.
import type { DnsPath, Vl3Data } from './context.js';
import { type Figure, le } from './figure.js';

export function vl3Rows(v: Vl3Data, add: (f: Figure) => void): void {
  const section = 'vL3 networks (issue 12)';
  if (v.joinReachable) {
    add({
      section,
      name: `Member joining a vL3 network of ${v.members}: reachable p50 (n=${v.joinReachable.n})`,
      value: v.joinReachable.p50,
      unit: 'ms',
      baseline: v.p2pRequest
        ? { label: 'point-to-point request, same run, p50', value: v.p2pRequest.p50, unit: 'ms' }
        : undefined,
      target: '≤ 50 ms',
      met: le(v.joinReachable.p50, 50),
      note: `p90 ${v.joinReachable.p90.toFixed(1)} ms; the join request alone p50 ${v.joinRequest?.p50.toFixed(1)} ms; knocked from a member on node1${v.joinFailures ? `; ${v.joinFailures} never answered` : ''}`,
    });
  }
  const rows: [string, DnsPath | undefined, DnsPath | undefined][] = [
    ['member on the same replica', v.dns?.forwarderSame, v.dns?.directSame],
    ['member on the other replica', v.dns?.forwarderOther, v.dns?.directOther],
  ];
  for (const [what, fwd, direct] of rows) {
    if (!fwd) continue;
    add({
      section,
      name: `Name resolution through the client's forwarder p50 (${what})`,
      value: fwd.p50Ms,
      unit: 'ms',
      baseline: direct
        ? { label: "straight to the replica's DNS", value: direct.p50Ms, unit: 'ms' }
        : undefined,
      target: '≤ 2 ms',
      met: le(fwd.p50Ms, 2),
      note: `p90 ${fwd.p90Ms.toFixed(2)} ms, n=${fwd.n}${fwd.failed ? `, ${fwd.failed} failed` : ''}`,
    });
  }
  const d = v.death;
  if (d) {
    add({
      section,
      name: `Replica kill -9: its members reach the others again (${d.members} healing clients)`,
      value: d.allBackMs,
      unit: 'ms',
      text: d.allBackMs === undefined ? `${d.healed}/${d.members} back within ${d.waitedMs} ms` : undefined,
      target: '≤ 1000 ms',
      met: d.allBackMs === undefined ? false : le(d.allBackMs, 1000),
      note: d.perMemberMs.length ? `per member: ${d.perMemberMs.join(', ')} ms` : undefined,
    });
  }
}
