// `nsmctl diagnose` against every fault of the lifecycle matrix (diagnose.ts): the verdict must name
// the injected hop and cause. Cells run NSM_DIAGNOSE_CONCURRENCY at a time (default 3), each on its
// own sandbox; the attribution table is printed at the end.
import assert from 'node:assert/strict';
import pLimit from 'p-limit';
import { resetPool } from '../e2e/helpers.js';
import { closeOpenSandboxes } from './common.js';
import {
  ATTRIBUTION_DEADLINE_MS,
  attributionTable,
  type DiagResult,
  diagnoseCells,
  runDiagCell,
} from './diagnose.js';

const CONCURRENCY = Number(process.env.NSM_DIAGNOSE_CONCURRENCY ?? 3);
const CELL_TIMEOUT_MS = 90_000 + ATTRIBUTION_DEADLINE_MS;

describe('nsmctl diagnose fault matrix (e2e)', function () {
  this.timeout(CELL_TIMEOUT_MS * 2);
  const cells = diagnoseCells();
  const results = new Map<string, Promise<DiagResult>>();

  before(() => {
    const limit = pLimit(CONCURRENCY);
    for (const c of cells) {
      const p = limit(() => runDiagCell(c));
      p.catch(() => undefined);
      results.set(c.id, p);
    }
  });

  after(async () => {
    const done = await Promise.all([...results.values()].map((p) => p.catch(() => undefined)));
    await closeOpenSandboxes();
    resetPool();
    process.stdout.write(`\n${attributionTable(done.filter((r): r is DiagResult => r !== undefined))}\n`);
  });

  for (const c of cells) {
    it(`${c.id}: ${c.fault} is attributed to the right hop and cause`, async () => {
      const r = await results.get(c.id)!;
      const why = [
        `sandbox ${r.sandbox}; before the fault: ${r.before ?? '-'}; logs: ${r.keptLogs ?? '-'}`,
        ...r.seen.map((s) => `  +${s.atMs} ms (exit ${s.code}): ${s.verdict}`),
      ].join('\n');
      assert.equal(r.error, undefined, why);
      assert.equal(r.final?.hop, r.expected.hop, why);
      assert.equal(r.final?.cause, r.expected.cause, why);
      assert.equal(r.final?.code, 1, 'diagnose exits 1 when it finds a fault');
    });
  }
});
