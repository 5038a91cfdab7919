import assert from 'node:assert/strict';
import { setMetricsEnabled } from '../tools/metrics/index.js';
import { kernelDuration, kernelFailures } from '../tools/metrics/metrics.js';
import type { Dataplane } from './dataplane.js';
import { instrumentDataplane } from './instrument.js';

async function count(op: string): Promise<{ runs: number; failures: number }> {
  const d = await kernelDuration.get();
  const f = await kernelFailures.get();
  return {
    runs:
      d.values.find(
        (v) => v.metricName === 'nsm_kernel_operation_duration_seconds_count' && v.labels.op === op,
      )?.value ?? 0,
    failures: f.values.filter((v) => v.labels.op === op).reduce((s, v) => s + v.value, 0),
  };
}

describe('kernel operation hook', () => {
  afterEach(() => setMetricsEnabled(false));

  const fake = {
    async deleteLink() {
      return true;
    },
    async linkMac() {
      throw Object.assign(new Error('no such device'), { code: 5 });
    },
    prepare() {},
  } as unknown as Dataplane;

  it('times every operation and counts failures by code, with metrics on', async () => {
    setMetricsEnabled(true);
    const d = instrumentDataplane(fake);
    const before = await count('deleteLink');
    assert.equal(await d.deleteLink(null, 'x'), true);
    await assert.rejects(d.linkMac(null, 'x'), /no such device/);
    assert.equal((await count('deleteLink')).runs, before.runs + 1);
    assert.equal((await count('linkMac')).failures, 1);
  });

  it('passes calls through untouched with metrics and tracing off, and never wraps the sync prepare', async () => {
    const d = instrumentDataplane(fake);
    const before = await count('deleteLink');
    await d.deleteLink(null, 'x');
    assert.equal((await count('deleteLink')).runs, before.runs);
    setMetricsEnabled(true);
    assert.equal(d.prepare(null), undefined); // not a promise: nothing to reject unhandled
  });
});
