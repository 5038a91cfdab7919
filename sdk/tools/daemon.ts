// The common life of a binary, the same for every daemon and example:
//  1. read its config schema from NSM_* variables; a bad value is one line `<binary>: NSM_X: ...` on
//     stderr and exit 2 (nothing else has run yet, so nothing else can fail first);
//  2. set up logging from that validated config (level, trace list, a stderr that never blocks);
//  3. start it; a failure to start is one line `<binary>: <message>` and exit 1;
//  4. on SIGTERM/SIGINT close it and exit 0 (a failed close is logged: there is nothing left to retry). A second signal, or closing taking
//     longer than STOP_TIMEOUT_MS, exits at once: a stuck close must not outlive the orchestrator's
//     patience, which would then SIGKILL us without a word.
import { getErrorMessage } from '../errors/index.js';
import { CONFIG_EXIT_CODE, type ConfigOf, isConfigError, loadConfig, type Schema } from './config/index.js';
import {
  compactAndTrim,
  type HeapCompactor,
  mallocTrim,
  startHeapCompactor,
  tuneHeap,
} from './heap/index.js';
import type { LineSink, LogLevel } from './log.js';
import { logger, setupLogging } from './log.js';
import { type ObservabilityConfig, setupObservability } from './observability.js';
import { newStderrSink } from './stderr.js';

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** How long closing may take after SIGTERM before the process exits anyway. */
export const STOP_TIMEOUT_MS = 20_000;
/** Exit code when the daemon could not start, or had to be stopped without finishing close. */
export const START_FAILED_EXIT_CODE = 1;

/**
 * The one close convention for anything long-lived (daemons, servers, pools, relays, monitor streams,
 * registry clients, registrations, reconcilers): `close()` releases everything, resolves when done,
 * and is safe to call more than once; using the object afterwards fails with FAILED_PRECONDITION.
 * Daemons, servers and pools also have `[Symbol.asyncDispose]` (the same function) for `await using`.
 *
 * Why `close(): Promise<void>` rather than only `Symbol.asyncDispose`: it is what most of the code
 * and every test already called, it reads naturally in shutdown sequences (`await server.close()`),
 * and grpc-js, pino and node's own servers use the same word. Chain elements own
 * `close(ctx, conn)`, so an element that also holds resources (the monitor relay) hands out a
 * separate handle: `newRelay()` returns `{ server, close() }`.
 */
export interface Closable {
  close(): Promise<void>;
}

/** A close() that does its work once; later calls wait for the same result. */
export function closeOnce(fn: () => Promise<void>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= Promise.resolve().then(fn);
    return done;
  };
}

/** Adds `[Symbol.asyncDispose]` (same as close) to an object that has `close()`. */
export function disposable<T extends Closable>(obj: T): T & { [Symbol.asyncDispose](): Promise<void> } {
  return Object.assign(obj, { [Symbol.asyncDispose]: () => obj.close() });
}

/** The config fields runDaemon reads itself; every schema spreads `loggingSchema` in. */
interface LoggingConfig {
  logLevel: LogLevel;
  trace: string[];
}

export interface RunDaemonOptions {
  env?: NodeJS.ProcessEnv;
  /** Defaults to process.exit; tests pass a recorder. */
  exit?: (code: number) => never;
  /** Defaults to the process's stderr (newStderrSink). */
  stderr?: LineSink;
  /** Where SIGTERM and SIGINT arrive; defaults to the process. Tests pass their own emitter. */
  signals?: Pick<NodeJS.EventEmitter, 'on' | 'off'>;
  /** Sets the GC flags of tools/heap; defaults to v8.setFlagsFromString. Tests pass a recorder. */
  setV8Flags?: (flags: string) => void;
  /** Starts tools/heap's compactor (default); tests that run many daemons in one process pass false. */
  compactHeap?: boolean;
}

export async function runDaemon<S extends Schema>(
  binary: string,
  schema: S,
  start: (config: ConfigOf<S>) => Promise<Closable>,
  opts: RunDaemonOptions = {},
): Promise<void> {
  const exitFn = opts.exit ?? ((code: number) => process.exit(code));
  const signals = opts.signals ?? process;
  let daemon: Closable | undefined;
  let stopping = false;
  let stopTimer: NodeJS.Timeout | undefined;
  let compactor: HeapCompactor | undefined;
  const exit = (code: number): never => {
    clearTimeout(stopTimer);
    compactor?.stop();
    signals.off('SIGTERM', stop);
    signals.off('SIGINT', stop);
    return exitFn(code);
  };
  const stderr = opts.stderr ?? newStderrSink();
  const fail = (code: number, message: string): never => {
    stderr.write(`${binary}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    return exit(code);
  };

  let config: ConfigOf<S>;
  try {
    config = loadConfig(schema, opts.env ?? process.env);
  } catch (e) {
    return fail(CONFIG_EXIT_CODE, getErrorMessage(e));
  }
  const logging = config as unknown as Partial<LoggingConfig>;
  setupLogging({ level: logging.logLevel ?? 'info', trace: logging.trace, sink: stderr });
  const log = logger(binary);
  // Memory peaks are uncollected garbage more than live state (tools/heap); before any work is done.
  const heapFlags = tuneHeap({ setFlags: opts.setV8Flags });
  if (heapFlags.length > 0) log.debug({ flags: heapFlags }, 'GC flags set');
  // A burst's garbage goes back to the OS once the daemon is quiet, not 10-20 s later (tools/heap).
  if (opts.compactHeap !== false) {
    // Loaded now, so idle memory already counts it; a libc without malloc_trim only logs.
    const { problem } = mallocTrim();
    if (problem) log.debug(problem);
    compactor = startHeapCompactor({
      onCompacted: (r) =>
        log.debug(
          { ms: Math.round(r.ms), beforeMiB: mib(r.beforeBytes), afterMiB: mib(r.afterBytes) },
          'heap compacted while quiet',
        ),
    });
  }

  // Listen before starting: a signal during start-up closes the daemon as soon as it is up (start
  // cannot be interrupted half-way without leaking what it made so far).
  let pending: NodeJS.Signals | undefined;
  signals.on('SIGTERM', stop);
  signals.on('SIGINT', stop);
  // Metrics and traces before the daemon, so its start-up is counted and traced too.
  let observability: Closable | undefined;
  try {
    observability = await setupObservability(binary, config as unknown as ObservabilityConfig, opts.env);
    daemon = await start(config);
  } catch (e) {
    // A setting found unusable only at start (identity files, a listen address refused without
    // TLS) is still a config error: the same one line and exit code as a bad value.
    if (isConfigError(e)) return fail(CONFIG_EXIT_CODE, getErrorMessage(e));
    log.error({ err: e }, `${binary} failed to start`);
    await observability?.close().catch(() => {});
    return fail(START_FAILED_EXIT_CODE, getErrorMessage(e));
  }
  const closeAll = async (d: Closable) => {
    try {
      await d.close();
    } finally {
      await observability
        ?.close()
        .catch((e: unknown) => log.warn({ err: e }, 'failed to flush metrics or traces'));
    }
  };
  // Start-up's garbage, collected now: until its first full GC, V8 lets old space grow to an initial
  // limit of its own (the daemons reached 30 MB, twice their live heap, before it came); after one,
  // the heap grows from what is live by --heap-growing-percent (tools/heap).
  if (opts.compactHeap !== false) void compactAndTrim().catch(() => {});
  if (pending) stop(pending);

  function stop(signal: NodeJS.Signals): void {
    if (!daemon) {
      if (pending) exit(START_FAILED_EXIT_CODE); // second signal while starting
      pending = signal;
      return;
    }
    if (stopping) {
      log.warn({ signal }, 'second signal: exiting without waiting for close');
      exit(START_FAILED_EXIT_CODE);
      return;
    }
    stopping = true;
    log.info({ signal }, 'stopping');
    stopTimer = setTimeout(() => {
      log.error({ timeoutMs: STOP_TIMEOUT_MS }, 'close did not finish in time: exiting anyway');
      exit(START_FAILED_EXIT_CODE);
    }, STOP_TIMEOUT_MS);
    stopTimer.unref();
    closeAll(daemon).then(
      () => exit(0),
      (e: unknown) => {
        log.warn({ err: e }, 'clean shutdown failed');
        exit(0);
      },
    );
  }
}
