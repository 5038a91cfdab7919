import assert from 'node:assert/strict';
import { Metadata, status } from '@grpc/grpc-js';
import { background } from '../core/context.js';
import { NsmError, notFound } from '../errors/index.js';
import { callError, callerStack, grpcTarget, toStatus } from './status.js';

describe('grpc status', () => {
  describe('toStatus', () => {
    const cases: { name: string; error: unknown; code: status; details: string }[] = [
      {
        name: 'keeps the code of an NsmError',
        error: notFound('no such endpoint'),
        code: status.NOT_FOUND,
        details: 'no such endpoint',
      },
      {
        name: 'keeps a code an NsmError wrapped from a cause',
        error: new NsmError(status.RESOURCE_EXHAUSTED, 'failed to allocate: pool empty'),
        code: status.RESOURCE_EXHAUSTED,
        details: 'failed to allocate: pool empty',
      },
      {
        name: 'maps a plain Error to UNKNOWN with its message',
        error: new Error('boom'),
        code: status.UNKNOWN,
        details: 'boom',
      },
      { name: 'maps a thrown string to UNKNOWN', error: 'text', code: status.UNKNOWN, details: 'text' },
      {
        name: 'keeps the code of a grpc ServiceError passed through',
        error: Object.assign(new Error('14 UNAVAILABLE: gone'), { code: status.UNAVAILABLE }),
        code: status.UNAVAILABLE,
        details: '14 UNAVAILABLE: gone',
      },
      {
        name: 'maps an out-of-range numeric code to UNKNOWN',
        error: Object.assign(new Error('errno'), { code: 42 }),
        code: status.UNKNOWN,
        details: 'errno',
      },
      {
        name: 'maps a string code (node errno) to UNKNOWN',
        error: Object.assign(new Error('no file'), { code: 'ENOENT' }),
        code: status.UNKNOWN,
        details: 'no file',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const s = toStatus(c.error);
        assert.equal(s.code, c.code);
        assert.equal(s.details, c.details);
        assert.ok(s.metadata instanceof Metadata);
      });
    }
  });

  describe('callError', () => {
    const stack = '    at theCaller (file:///caller.js:1:1)';

    it('keeps the status code and prefixes what the caller was doing, once', () => {
      const cause = Object.assign(new Error('5 NOT_FOUND: no endpoint'), {
        code: status.NOT_FOUND,
        details: 'no endpoint',
      });
      const e = callError(cause, 'failed to request at unix:///x', background(), stack);
      assert.ok(e instanceof NsmError);
      assert.equal(e.code, status.NOT_FOUND);
      assert.equal(e.message, 'failed to request at unix:///x: no endpoint');
      assert.equal(e.cause, cause);
      assert.equal(e.stack, `NsmError: failed to request at unix:///x: no endpoint\n${stack}`);
    });

    it("gives the stack of the function that started the call, starting at its caller's frame", () => {
      function startsTheCall() {
        return callerStack();
      }
      const taken = startsTheCall();
      const e = callError(new Error('socket hang up'), 'failed to close', background(), taken);
      const frames = (e.stack ?? '').split('\n');
      assert.equal(frames[0], 'NsmError: failed to close: socket hang up');
      assert.match(frames[1], /startsTheCall/);
    });

    it('uses UNKNOWN and the message when there is no status', () => {
      const e = callError(new Error('socket hang up'), 'failed to close', background(), stack);
      assert.equal(e.code, status.UNKNOWN);
      assert.equal(e.message, 'failed to close: socket hang up');
    });

    const aborted = (reason: unknown, deadline?: number) => {
      const c = new AbortController();
      c.abort(reason);
      return { ...background(), signal: c.signal, deadline };
    };
    const cases: { name: string; ctx: ReturnType<typeof aborted>; code: status; message: string }[] = [
      {
        name: 'a cancelled context is CANCELLED with its reason',
        ctx: aborted(new Error('stopping')),
        code: status.CANCELLED,
        message: 'failed to x: stopping',
      },
      {
        name: 'a context past its deadline is DEADLINE_EXCEEDED',
        ctx: aborted(new Error('deadline of 5 ms exceeded'), Date.now() - 1),
        code: status.DEADLINE_EXCEEDED,
        message: 'failed to x: deadline of 5 ms exceeded',
      },
      {
        name: 'AbortSignal.timeout is DEADLINE_EXCEEDED',
        ctx: aborted(new DOMException('timed out', 'TimeoutError')),
        code: status.DEADLINE_EXCEEDED,
        message: 'failed to x: timed out',
      },
      {
        name: 'a reason with a code keeps it',
        ctx: aborted(new NsmError(status.DEADLINE_EXCEEDED, 'budget spent')),
        code: status.DEADLINE_EXCEEDED,
        message: 'failed to x: budget spent',
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        const grpcSays = Object.assign(new Error('1 CANCELLED: Cancelled on client'), {
          code: status.CANCELLED,
          details: 'Cancelled on client',
        });
        const e = callError(grpcSays, 'failed to x', c.ctx, stack);
        assert.equal(status[e.code], status[c.code]);
        assert.equal(e.message, c.message);
      });
    }
  });

  describe('grpcTarget', () => {
    const cases = [
      { input: 'tcp://10.0.0.1:5001', want: '10.0.0.1:5001' },
      { input: 'unix:///var/lib/nsm/nsm.io.sock', want: 'unix:///var/lib/nsm/nsm.io.sock' },
      { input: 'localhost:5001', want: 'localhost:5001' },
    ];
    for (const c of cases) {
      it(`turns ${c.input} into ${c.want}`, () => {
        assert.equal(grpcTarget(c.input), c.want);
      });
    }
  });
});
