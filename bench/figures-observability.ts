// The observability part's figures: what metrics and tracing add to one hop, side by side (without
// the elements, shipped with both off, both on), and that set against the local setup p50 of the
// same run. A local setup passes three server chains (nsmgr, forwarder, endpoint) and a handful of
// kernel operations on the forwarder; KERNEL_OPS_PER_SETUP is an upper bound of the latter.
import type { ObservabilityData, PathLatency } from './context.js';
import { type Figure, le } from './figure.js';

const HOPS = 3;
const KERNEL_OPS_PER_SETUP = 8;

export function observabilityRows(
  o: ObservabilityData,
  local: PathLatency | undefined,
  add: (f: Figure) => void,
): void {
  const section = `Metrics and tracing (one hop in process, median of ${o.rounds} rounds × ${o.n})`;
  const us = o.usPerSetupAndClose;
  const k = o.usPerKernelOp;
  add({
    section,
    name: 'Request + Close through one hop, metrics and tracing off',
    value: us.off,
    unit: 'µs',
    baseline: { label: 'the same prefix without metrics, logscope, trace', value: us.base, unit: 'µs' },
  });
  add({
    section,
    name: 'Request + Close through one hop, metrics and tracing on (OTLP export)',
    value: us.on,
    unit: 'µs',
    baseline: { label: 'off', value: us.off, unit: 'µs' },
  });
  add({
    section,
    name: 'One kernel operation through the hook, on',
    value: k.on,
    unit: 'µs',
    baseline: { label: 'off', value: k.off, unit: 'µs' },
  });
  if (!local) return;
  const setupUs = local.setup.p50 * 1000;
  const offAdds = HOPS * Math.max(0, us.off - us.base) + KERNEL_OPS_PER_SETUP * Math.max(0, k.off);
  const onAdds = HOPS * Math.max(0, us.on - us.off) + KERNEL_OPS_PER_SETUP * Math.max(0, k.on - k.off);
  add({
    section,
    name: `Off: added to a local setup (${HOPS} hops, ≤ ${KERNEL_OPS_PER_SETUP} kernel ops)`,
    value: (100 * offAdds) / setupUs,
    unit: '%',
    target: '≤ 1% (no measurable change)',
    met: le((100 * offAdds) / setupUs, 1),
    note: `${offAdds.toFixed(0)} µs of a ${local.setup.p50.toFixed(1)} ms local setup p50`,
  });
  add({
    section,
    name: `On: added to a local setup (${HOPS} hops, ≤ ${KERNEL_OPS_PER_SETUP} kernel ops)`,
    value: (100 * onAdds) / setupUs,
    unit: '%',
    target: '≤ 10%',
    met: le((100 * onAdds) / setupUs, 10),
    note: `${onAdds.toFixed(0)} µs of a ${local.setup.p50.toFixed(1)} ms local setup p50`,
  });
}
