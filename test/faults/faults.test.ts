// The fault matrix end to end (see matrix.ts): one test per {local, remote} × fault cell, with UDP
// traffic running over the connection during the fault, plus a churn test. Every deadline comes
// from the configured lifetimes (timing.ts); the measured times are in the report (`npm run
// faults`, bench/results/faults.md).
//
// Cells run NSM_FAULTS_CONCURRENCY at a time (default 2), each on its own sandbox: a cell spends
// most of its time watching traffic, so two of them share a 2-core machine without slowing each
// other's restarts beyond what the token lifetime allows for.
import assert from 'node:assert/strict';
import pLimit from 'p-limit';
import { resetPool } from '../e2e/helpers.js';
import { runChurn } from './churn.js';
import { type CellResult, closeOpenSandboxes, matrix, runCell } from './matrix.js';
import { REPLY_FRESH_MS, TIMING } from './timing.js';

const verbose = process.env.NSM_FAULTS_VERBOSE === '1';
const log = verbose ? (l: string) => process.stdout.write(`${l}\n`) : undefined;
const CONCURRENCY = Number(process.env.NSM_FAULTS_CONCURRENCY ?? 2);
/**
 * One cell from start to end, at most: six daemons and four pods started (a sandbox), then every
 * wait of the scenario at its deadline.
 */
const CELL_TIMEOUT_MS =
  60_000 +
  TIMING.recoveryMs * 3 +
  TIMING.registrationsMs +
  TIMING.orphanCleanupMs +
  TIMING.observeMs +
  TIMING.cleanupMs * 2;

const PROMISE_TEXT = {
  uninterrupted: 'traffic never interrupted, interfaces kept',
  restored: 'traffic restored',
  'cleaned-up': 'interfaces removed',
} as const;

function context(r: CellResult): string {
  return [
    `sandbox ${r.sandbox}${r.logs ? `, logs kept in ${r.logs}` : ''}`,
    ...r.failures.map((f) => `  - ${f}`),
    '  timeline:',
    ...r.timeline.map((t) => `    ${t}`),
  ].join('\n');
}

describe('fault matrix (e2e)', function () {
  this.timeout(CELL_TIMEOUT_MS);
  if (!Number.isInteger(CONCURRENCY) || CONCURRENCY < 1) {
    throw new Error(
      `NSM_FAULTS_CONCURRENCY: want a whole number ≥ 1 (got "${process.env.NSM_FAULTS_CONCURRENCY}")`,
    );
  }
  const cells = matrix();
  const results = new Map<string, Promise<CellResult>>();

  before(() => {
    // Start every cell now, CONCURRENCY at a time, in the order of the tests; each test waits for
    // its own. Rejections are handled by the test that awaits them.
    const limit = pLimit(CONCURRENCY);
    for (const c of cells) {
      const p = limit(() => runCell(c, { log }));
      p.catch(() => undefined);
      results.set(c.id, p);
    }
  });

  after(async () => {
    for (const p of results.values()) await p.catch(() => undefined);
    await closeOpenSandboxes(); // only when a test timed out with its cell still running
    resetPool();
  });

  for (const c of cells) {
    it(`${c.id}: ${PROMISE_TEXT[c.promise]}, nothing leaked`, async () => {
      const r = await results.get(c.id)!;
      const why = context(r);
      const scenario = r.failures.filter((f) => f.startsWith('scenario error'));
      assert.deepEqual(scenario, [], `the scenario could not run\n${why}`);
      switch (c.promise) {
        case 'uninterrupted':
          assert.equal(r.lost, 0, `datagrams lost during the ${c.fault} fault\n${why}`);
          break;
        case 'restored':
          assert.notEqual(r.restoreMs, null, `traffic not restored\n${why}`);
          assert.ok(
            r.stream?.lastReplyAt && r.stream.now - r.stream.lastReplyAt < REPLY_FRESH_MS,
            `no traffic at the end\n${why}`,
          );
          break;
        case 'cleaned-up':
          assert.notEqual(r.cleanupMs, null, `the connection's interfaces were not removed\n${why}`);
          break;
      }
      if (c.restart && c.fault !== 'registry' && c.fault !== 'orphan') {
        assert.equal(r.reconnected, true, `the restarted ${c.fault} does not hold the connection\n${why}`);
      }
      if (c.restart && c.promise !== 'cleaned-up') {
        assert.equal(r.newConnections, true, `no new connection after the ${c.fault} restart\n${why}`);
      }
      if (c.fault === 'registry') {
        assert.equal(r.registrationsBack, true, `registrations did not come back\n${why}`);
      }
      if (c.addressesKept) assert.equal(r.addressesKept, true, `addresses changed\n${why}`);
      if (c.interfacesKept) assert.equal(r.interfacesKept, true, `interfaces replaced\n${why}`);
      if (c.fault === 'endpoint') {
        assert.notEqual(r.endpointAfter, r.endpointBefore, `no other endpoint selected\n${why}`);
      }
      assert.deepEqual(r.stray, [], `unexpected kernel objects after recovery\n${why}`);
      assert.deepEqual(r.leaked, [], `kernel objects left behind\n${why}`);
      assert.deepEqual(r.failures, [], `broken promises\n${why}`);
    });
  }

  it('churn: sequential and concurrent request/close cycles leave nothing behind', async () => {
    const r = await runChurn({ log });
    const why = `sandbox ${r.sandbox}${r.logs ? `, logs kept in ${r.logs}` : ''}`;
    assert.deepEqual(r.failedRequests, [], `requests failed (${why})`);
    assert.deepEqual(r.leaked, [], `kernel objects left behind (${why})`);
    for (const [daemon, n] of Object.entries(r.held)) {
      assert.equal(n, 0, `${daemon}'s MonitorConnections still reports ${n} connection(s) (${why})`);
    }
  });
});
