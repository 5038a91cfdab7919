// The lifecycle cells (lifecycle.ts): hung daemons, the underlay down, clients started during a
// registry restart, Close after a reselect. They spend most of their time waiting out a hang, so
// they run NSM_LIFECYCLE_CONCURRENCY at a time (default 4: a hang cell is idle for two lifetimes).
import assert from 'node:assert/strict';
import pLimit from 'p-limit';
import { resetPool } from '../e2e/helpers.js';
import { closeOpenSandboxes } from './common.js';
import { hangMs, type LifecycleResult, lifecycleCells, runLifecycleCell } from './lifecycle.js';
import { TIMING } from './timing.js';

const verbose = process.env.NSM_FAULTS_VERBOSE === '1';
const log = verbose ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
const CONCURRENCY = Number(process.env.NSM_LIFECYCLE_CONCURRENCY ?? 4);
/** Set-up, a steady window, the hang, the observation, the close and the leak check. */
const CELL_TIMEOUT_MS = 60_000 + hangMs(TIMING.lifetimeMs) + TIMING.observeMs + 2 * TIMING.cleanupMs;

describe('lifecycle faults (e2e)', function () {
  this.timeout(CELL_TIMEOUT_MS);
  const cells = lifecycleCells();
  const results = new Map<string, Promise<LifecycleResult>>();

  before(() => {
    const limit = pLimit(CONCURRENCY);
    for (const c of cells) {
      const p = limit(() => runLifecycleCell(c, { log }));
      p.catch(() => undefined);
      results.set(c.id, p);
    }
  });

  after(async () => {
    for (const p of results.values()) await p.catch(() => undefined);
    await closeOpenSandboxes();
    resetPool();
  });

  for (const c of cells) {
    it(`${c.id}: ${c.description}`, async () => {
      const r = await results.get(c.id)!;
      const why = [
        `sandbox ${r.sandbox}${r.logs ? `, logs kept in ${r.logs}` : ''}`,
        ...r.timeline.map((l) => `    ${l}`),
      ].join('\n');
      assert.deepEqual(r.failures, [], `broken promises\n${why}`);
    });
  }
});
