import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { type Attempt, afterFailure, firstAttempt, REBUILD, REPAIR, RESELECT, waitBefore } from './common.js';

describe('heal decisions', () => {
  describe('firstAttempt', () => {
    it('repairs the same path first (the client decides later whether to rebuild)', () => {
      assert.deepEqual(firstAttempt(), REPAIR);
    });
  });

  describe('afterFailure', () => {
    const cases: { name: string; failed: Attempt; code: status; want: Attempt }[] = [
      { name: 'a restarting hop: repair again', failed: REPAIR, code: status.UNAVAILABLE, want: REPAIR },
      { name: 'a slow hop: repair again', failed: REPAIR, code: status.DEADLINE_EXCEEDED, want: REPAIR },
      { name: 'the endpoint is gone: reselect', failed: REPAIR, code: status.NOT_FOUND, want: RESELECT },
      { name: 'a repair refused otherwise: rebuild', failed: REPAIR, code: status.INTERNAL, want: REBUILD },
      { name: 'a failed rebuild: reselect', failed: REBUILD, code: status.UNAVAILABLE, want: RESELECT },
      {
        name: 'a rebuild to a gone endpoint: reselect',
        failed: REBUILD,
        code: status.NOT_FOUND,
        want: RESELECT,
      },
      { name: 'a failed reselect: reselect again', failed: RESELECT, code: status.UNKNOWN, want: RESELECT },
    ];
    for (const c of cases) {
      it(c.name, () => assert.deepEqual(afterFailure(c.failed, c.code), c.want));
    }
  });

  describe('waitBefore', () => {
    const cases: { name: string; failed: Attempt; next: Attempt; want: boolean }[] = [
      { name: 'waits before repeating a repair', failed: REPAIR, next: REPAIR, want: true },
      { name: 'waits before repeating a reselect', failed: RESELECT, next: RESELECT, want: true },
      { name: 'rebuilds at once after a failed repair', failed: REPAIR, next: REBUILD, want: false },
      { name: 'reselects at once after a failed rebuild', failed: REBUILD, next: RESELECT, want: false },
      { name: 'reselects at once when the endpoint is gone', failed: REPAIR, next: RESELECT, want: false },
    ];
    for (const c of cases) {
      it(c.name, () => assert.equal(waitBefore(c.failed, c.next), c.want));
    }
  });
});
