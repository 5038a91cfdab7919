// The logging fields every binary's schema spreads in (`...loggingSchema`): validated here, applied by
// runDaemon through setupLogging, so a bad NSM_LOG_LEVEL is one line and exit 2 like any bad value.
import { LOG_LEVELS } from '../log.js';
import { observabilitySchema } from './observability.js';
import { t } from './types.js';

export const loggingSchema = {
  logLevel: t.enumOf(LOG_LEVELS, {
    env: 'NSM_LOG_LEVEL',
    default: 'info',
    description: `Log level: ${LOG_LEVELS.join(', ')} (case-insensitive).`,
  }),
  trace: t.stringList({
    env: 'NSM_TRACE',
    default: '',
    description: 'Modules whose debug tracing is on (comma-separated, e.g. kernel,begin), or all.',
  }),
  ...observabilitySchema, // metrics and traces: set up beside logging, by runDaemon
};
