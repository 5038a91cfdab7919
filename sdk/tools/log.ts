// Structured logging (pino) to stderr. NSM_LOG_LEVEL sets the level (default info);
// NSM_TRACE=begin,vxlan (or "all") turns on per-module debug tracing, as grpc-js does with GRPC_TRACE.
import { type Logger, pino } from 'pino';

export type { Logger };

const LEVEL = (process.env.NSM_LOG_LEVEL || 'info').toLowerCase();
const TRACED = new Set(
  (process.env.NSM_TRACE ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean),
);

export const rootLogger: Logger = pino({ level: LEVEL, base: { pid: process.pid } }, pino.destination(2));

export function logger(component: string): Logger {
  return rootLogger.child({ component });
}

/** True when NSM_TRACE names this module or says "all". */
export function traceEnabled(module: string): boolean {
  return TRACED.has('all') || TRACED.has(module);
}
