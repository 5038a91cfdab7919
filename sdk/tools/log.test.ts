import assert from 'node:assert/strict';
import { status } from '@grpc/grpc-js';
import { NsmError, wrap } from '../errors/index.js';
import {
  currentLogging,
  type LogOptions,
  logger,
  serializeError,
  setupLogging,
  traceEnabled,
} from './log.js';

describe('logging', () => {
  let saved: LogOptions;
  let lines: string[];
  beforeEach(() => {
    saved = currentLogging();
    lines = [];
  });
  afterEach(() => setupLogging(saved));

  const sink = () => ({ write: (l: string) => void lines.push(l) });

  it('applies a later setup to loggers made before it (module-level loggers)', () => {
    const early = logger('made-early');
    setupLogging({ level: 'error', sink: sink() });
    early.warn('hidden');
    setupLogging({ level: 'debug', sink: sink() });
    early.debug('shown');
    assert.equal(lines.length, 1);
    assert.equal(JSON.parse(lines[0]).msg, 'shown');
    assert.equal(JSON.parse(lines[0]).component, 'made-early');
  });

  it('turns tracing on per module, or for all', () => {
    setupLogging({ level: 'info', trace: ['kernel'] });
    assert.equal(traceEnabled('kernel'), true);
    assert.equal(traceEnabled('begin'), false);
    setupLogging({ level: 'info', trace: ['all'] });
    assert.equal(traceEnabled('begin'), true);
    setupLogging({ level: 'info', trace: [] });
    assert.equal(traceEnabled('kernel'), false);
  });

  it('logs an error chain once per hop, not once more per cause', () => {
    const endpoint = new NsmError(status.NOT_FOUND, 'no such endpoint');
    const forwarder = wrap(endpoint, 'failed to request at unix:///nse.sock');
    const nsmgr = wrap(forwarder, 'failed to request at unix:///fwd.sock');
    setupLogging({ level: 'info', sink: sink() });
    logger('x').warn({ err: nsmgr }, 'request failed');
    const err = JSON.parse(lines[0]).err;
    assert.equal(
      err.message,
      'failed to request at unix:///fwd.sock: failed to request at unix:///nse.sock: no such endpoint',
    );
    assert.equal(err.code, 'NOT_FOUND');
    assert.match(err.stack, /^NsmError: failed to request at unix:\/\/\/fwd\.sock/);
  });

  it('leaves values that are not errors alone', () => {
    assert.equal(serializeError('text'), 'text');
    assert.deepEqual(serializeError({ a: 1 }), { a: 1 });
  });
});
