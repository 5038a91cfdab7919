// One-off: the lifecycle cells at the daemons' default token lifetime (10m) and lease (1m), with the
// hang of issue 8's run (20 s) and a 15 s observation (a run at 2× 10m would take 40 minutes).
// `node dist/test/faults/lifecycle-report.js` as root; prints one line per cell.
// Runs NSM_LIFECYCLE_CONCURRENCY cells at a time (default 4), as the fault tier does.
import pLimit from 'p-limit';
import { lifecycleCells, runLifecycleCell } from './lifecycle.js';

const env: Record<string, string> = {};
const limit = pLimit(Number(process.env.NSM_LIFECYCLE_CONCURRENCY ?? 4));
const results = await Promise.all(
  lifecycleCells().map((c) => limit(() => runLifecycleCell(c, { env, hangMs: 20_000, observeMs: 15_000 }))),
);
for (const r of results) {
  process.stdout.write(
    `${JSON.stringify({
      cell: r.cell.id,
      lost: r.lost,
      backAfterEndMs: r.backAfterEndMs,
      freedMs: r.freedMs,
      newConnectionMs: r.newConnectionMs,
      registrationsMs: r.registrationsMs,
      connectedMs: r.connectedMs,
      failures: r.failures,
    })}\n`,
  );
}
process.exit(0);
