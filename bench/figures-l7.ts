// The L7 part's figures (bench/parts/l7.ts): p50 latency the mesh adds in front of the gateway's
// HAProxy, and requests per second, both against the same HAProxy reached over a plain veth.
import type { L7Data } from './context.js';
import { type Figure, ge, le, ratio } from './figure.js';
import { median } from './stats.js';

export function l7Rows(d: L7Data, add: (f: Figure) => void): void {
  const section = 'L7 gateway (issue 14; HTTP through HAProxy to 2 backends over mesh connections)';
  if (d.p50Ms.mesh.length === 0 || d.p50Ms.veth.length === 0) return;
  const added = median(d.p50Ms.mesh.map((m, i) => m - d.p50Ms.veth[i]));
  add({
    section,
    name: `p50 latency added by the mesh (sequential HTTP, median of ${d.p50Ms.mesh.length} rounds)`,
    value: added,
    unit: 'ms',
    target: '≤ 0.5 ms',
    met: le(added, 0.5),
    note: `p50 mesh ${median(d.p50Ms.mesh).toFixed(3)} ms, veth ${median(d.p50Ms.veth).toFixed(3)} ms${d.failed ? `; ${d.failed} failed` : ''}`,
  });
  const mesh = median(d.rps.mesh);
  const veth = median(d.rps.veth);
  const r = ratio(mesh, veth);
  add({
    section,
    name: 'HTTP requests/s through the gateway over a mesh connection (keep-alive, 8 in flight)',
    value: mesh,
    unit: 'req/s',
    baseline: { label: 'same HAProxy over a plain veth, same run', value: veth, unit: 'req/s' },
    target: '≥ 0.9× veth',
    met: r === undefined ? undefined : ge(r, 0.9),
  });
}
