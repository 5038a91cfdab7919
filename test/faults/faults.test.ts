// The fault matrix end to end (see matrix.ts): one test per {local, remote} × fault cell, with UDP
// traffic running over the connection during the fault, plus a churn test. The only timing here is
// generous deadlines for "eventually" (matrix.ts DEADLINE_MS); the measured times are in the report
// (`npm run faults`, bench/results/faults.md).
import assert from 'node:assert/strict';
import { resetPool } from '../e2e/helpers.js';
import { type CellResult, closeOpenSandboxes, DEADLINE_MS, matrix, runCell, runChurn } from './matrix.js';

const verbose = process.env.NSM_FAULTS_VERBOSE === '1';
const log = verbose ? (l: string) => process.stdout.write(`${l}\n`) : undefined;

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
  this.timeout(3 * DEADLINE_MS + 60_000);

  after(async () => {
    await closeOpenSandboxes(); // only when a test timed out with its cell still running
    resetPool();
  });

  for (const c of matrix()) {
    it(`${c.id}: ${PROMISE_TEXT[c.promise]}, nothing leaked`, async () => {
      const r = await runCell(c, { log });
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
            r.stream?.lastReplyAt && r.stream.now - r.stream.lastReplyAt < 500,
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

  it('churn: 100 sequential and 30 concurrent request/close cycles leave nothing behind', async () => {
    const r = await runChurn({ log });
    const why = `sandbox ${r.sandbox}${r.logs ? `, logs kept in ${r.logs}` : ''}`;
    assert.deepEqual(r.failedRequests, [], `requests failed (${why})`);
    assert.deepEqual(r.leaked, [], `kernel objects left behind (${why})`);
    for (const [daemon, n] of Object.entries(r.held)) {
      assert.equal(n, 0, `${daemon}'s MonitorConnections still reports ${n} connection(s) (${why})`);
    }
  });
});
