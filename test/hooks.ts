// Root mocha hooks, loaded before every test file (.mocharc.json "require").
import { loadConfig, loggingSchema } from '../sdk/tools/config/index.js';
import { setupLogging } from '../sdk/tools/log.js';

// In-process daemons log only warnings unless the developer asks for more (NSM_LOG_LEVEL, NSM_TRACE);
// spawned daemons inherit the same variables.
process.env.NSM_LOG_LEVEL ??= 'warn';
const logging = loadConfig(loggingSchema);
setupLogging({ level: logging.logLevel, trace: logging.trace });

// An unhandled rejection anywhere fails the run instead of being silently logged.
process.on('unhandledRejection', (reason) => {
  throw reason instanceof Error ? reason : new Error(String(reason));
});
