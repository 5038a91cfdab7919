import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { t } from './config/index.js';
import { loggingSchema } from './config/logging.js';
import { runDaemon } from './daemon.js';
import { tuneHeap } from './heap/index.js';
import { currentLogging, type LogOptions, logger, setupLogging } from './log.js';

const schema = { name: t.string({ env: 'NSM_NAME', description: 'name', required: true }), ...loggingSchema };

/** runDaemon with a recorded exit and stderr; resolves with the exit code. */
function harness() {
  const lines: string[] = [];
  let exited: (code: number) => void = () => {};
  const exitCode = new Promise<number>((resolve) => {
    exited = resolve;
  });
  // Signals go to an emitter of the test's own: the real process's SIGTERM belongs to the test runner.
  const signals = new EventEmitter();
  const opts = {
    signals,
    stderr: { write: (l: string) => void lines.push(l) },
    exit: ((code: number) => exited(code)) as (code: number) => never,
    // GC flags are recorded, not set: they would change the test runner's own heap.
    setV8Flags: (f: string) => void v8Flags.push(f),
  };
  const v8Flags: string[] = [];
  return { lines, exitCode, opts, signals, v8Flags };
}

describe('runDaemon', () => {
  let saved: LogOptions;
  beforeEach(() => {
    saved = currentLogging();
  });
  afterEach(() => setupLogging(saved));

  it('rejects a bad NSM_LOG_LEVEL with one line naming it and exit code 2, before starting', async () => {
    const h = harness();
    let started = false;
    await runDaemon(
      'x',
      schema,
      async () => {
        started = true;
        return { close: async () => {} };
      },
      { ...h.opts, env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'verbose' } },
    );
    assert.equal(await h.exitCode, 2);
    assert.equal(started, false);
    assert.equal(h.lines.length, 1);
    assert.match(h.lines[0], /^x: NSM_LOG_LEVEL: must be one of trace, .*\(got "verbose"\)\n$/);
  });

  it('applies the validated log level and trace list before starting', async () => {
    const h = harness();
    let seen: { debug: boolean } | undefined;
    await runDaemon(
      'x',
      schema,
      async () => {
        seen = { debug: logger('some-module').isLevelEnabled('debug') };
        return { close: async () => {} };
      },
      { ...h.opts, env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'DEBUG', NSM_TRACE: 'kernel' } },
    );
    assert.deepEqual(seen, { debug: true });
    assert.deepEqual(currentLogging().trace, ['kernel']);
    h.signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await h.exitCode, 0);
  });

  it('sets the GC flags of tools/heap before starting', async () => {
    const h = harness();
    const expected = tuneHeap({ setFlags: () => {} }); // what this process was not already given
    let atStart: string[] = [];
    await runDaemon(
      'x',
      schema,
      async () => {
        atStart = [...h.v8Flags];
        return { close: async () => {} };
      },
      { ...h.opts, env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'silent' } },
    );
    assert.deepEqual(atStart, expected);
    h.signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await h.exitCode, 0);
  });

  it('turns a failure to start into one line and exit code 1', async () => {
    const h = harness();
    await runDaemon(
      'x',
      schema,
      async () => {
        throw new Error('cannot bind\nport 5001');
      },
      { ...h.opts, env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'silent' } },
    );
    assert.equal(await h.exitCode, 1);
    assert.deepEqual(h.lines, ['x: cannot bind port 5001\n']);
  });

  it('closes the daemon on SIGTERM and exits 0', async () => {
    const h = harness();
    let closed = 0;
    await runDaemon('x', schema, async () => ({ close: async () => void closed++ }), {
      ...h.opts,
      env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'silent' },
    });
    h.signals.emit('SIGTERM', 'SIGTERM');
    assert.equal(await h.exitCode, 0);
    assert.equal(closed, 1);
    assert.equal(h.signals.listenerCount('SIGTERM'), 0, 'listeners removed on exit');
  });

  it('exits at once on a second signal while close hangs', async () => {
    const h = harness();
    await runDaemon('x', schema, async () => ({ close: () => new Promise<void>(() => {}) }), {
      ...h.opts,
      env: { NSM_NAME: 'a', NSM_LOG_LEVEL: 'silent' },
    });
    h.signals.emit('SIGTERM', 'SIGTERM');
    h.signals.emit('SIGINT', 'SIGINT');
    assert.equal(await h.exitCode, 1);
  });
});
