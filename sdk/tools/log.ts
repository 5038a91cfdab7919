// Structured logging (pino), JSON lines on stderr. Nothing is read from the environment here and
// importing this module has no side effect beyond a default logger (level info): a binary calls
// `setupLogging` with its validated config (runDaemon does), so a bad NSM_LOG_LEVEL is a config error
// (one line, exit 2), not a throw at import time. `trace` turns on per-module debug tracing, as
// grpc-js does with GRPC_TRACE (NSM_TRACE=kernel,begin or "all").
//
// Loggers returned by `logger(component)` are created once per component and follow later
// `setupLogging` calls, so module-level `const log = logger('x')` works before setup.
import { AsyncLocalStorage } from 'node:async_hooks';
import { status } from '@grpc/grpc-js';
import { type Logger, pino } from 'pino';
import { getErrorCode, isNsmError } from '../errors/index.js';
import { type LineSink, newStderrSink } from './stderr.js';

export type { LineSink, Logger };

/** pino's levels, most verbose first; `silent` logs nothing. */
export const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  level: LogLevel;
  /** Modules whose debug tracing is on; "all" turns on every one. */
  trace?: readonly string[];
  /** Where lines go; absent: unchanged, undefined: stderr (never blocking; see stderr.ts). */
  sink?: LineSink;
}

let sink: LineSink | undefined;
/** The root writes through here, so `setupLogging` can swap the sink of every existing logger. */
const forward: LineSink = {
  write(line: string) {
    sink ??= newStderrSink();
    sink.write(line);
  },
};
/**
 * `err` fields: our messages already carry their causes ("failed to request at A: failed to request
 * at B: boom", see errors/nsm-error.ts), so pino's default serializer, which appends every `cause`'s
 * message again, printed the downstream chain twice. This one prints the message as it is, the gRPC
 * code, and the stack.
 */
export function serializeError(e: unknown): unknown {
  if (!(e instanceof Error)) return e;
  const code = getErrorCode(e);
  return {
    type: e.name,
    message: e.message,
    ...(isNsmError(e) || code !== status.UNKNOWN ? { code: status[code] } : {}),
    stack: e.stack,
  };
}

/**
 * Fields every line logged inside a scope carries (the hop and the connection id, set by the
 * logscope element for the rest of the chain), so elements need no code for them; a field the line
 * itself sets wins.
 */
const scope = new AsyncLocalStorage<Readonly<Record<string, unknown>>>();

/** Runs `fn` with `fields` added to every line logged inside it (and in what it starts). */
export function withLogFields<T>(fields: Readonly<Record<string, unknown>>, fn: () => T): T {
  const outer = scope.getStore();
  return scope.run(outer ? { ...outer, ...fields } : fields, fn);
}

/** The fields of the scope the caller runs in (empty outside any). */
export function logFields(): Readonly<Record<string, unknown>> {
  return scope.getStore() ?? {};
}

const root: Logger = pino(
  {
    level: 'info',
    base: { pid: process.pid },
    serializers: { err: serializeError },
    // a copy: pino merges each line's own fields into what mixin returns, which would otherwise
    // write them into the scope and onto every later line in it
    mixin: () => ({ ...scope.getStore() }),
  },
  forward,
);
const children = new Map<string, Logger>();
let traced = new Set<string>();

/** Applies a binary's validated logging config to every logger, existing and future. */
export function setupLogging(opts: LogOptions): void {
  if ('sink' in opts) sink = opts.sink; // undefined: back to stderr
  root.level = opts.level;
  for (const child of children.values()) child.level = opts.level;
  traced = new Set(opts.trace ?? []);
}

/** The options in force (tests restore them after changing them). */
export function currentLogging(): LogOptions {
  return { level: root.level as LogLevel, trace: [...traced], sink };
}

export function logger(component: string): Logger {
  let child = children.get(component);
  if (!child) {
    child = root.child({ component });
    children.set(component, child);
  }
  return child;
}

/** True when the trace list names this module or says "all". */
export function traceEnabled(module: string): boolean {
  return traced.has('all') || traced.has(module);
}
