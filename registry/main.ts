// The registry binary: `node dist/registry/main.js`. Configuration comes from NSM_* variables
// (registry/config.ts); a bad value prints one line and exits 2.
import { loadConfigOrExit } from '../sdk/tools/config/index.js';
import { registrySchema } from './config.js';

const config = loadConfigOrExit('registry', registrySchema);
// sdk/tools/log.ts reads NSM_LOG_LEVEL when it is first imported; give it the validated spelling.
process.env.NSM_LOG_LEVEL = config.logLevel;

const { logger } = await import('../sdk/tools/log.js');
const { startRegistry } = await import('./server.js');
const log = logger('registry');

try {
  const registry = await startRegistry(config);
  const stop = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down');
    registry.close().then(
      () => process.exit(0),
      (e: unknown) => {
        log.error({ err: e }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  log.fatal({ err: e }, 'registry failed to start');
  process.exit(1);
}
