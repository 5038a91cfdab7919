// nsmgr binary: `node dist/nsmgr/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../sdk/tools/config/index.js';
import { logger } from '../sdk/tools/log.js';
import { nsmgrSchema } from './config.js';
import { startNsmgr } from './server.js';

const log = logger('nsmgr');
const config = loadConfigOrExit('nsmgr', nsmgrSchema);

try {
  const nsmgr = await startNsmgr({
    name: config.name ?? `nsmgr-${hostname()}`,
    listenOn: config.listenOn,
    publicURL: config.publicURL,
    registryURL: config.registryURL,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    forwarderServiceName: config.forwarderServiceName,
  });
  const stop = async () => {
    await nsmgr.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  log.error({ err: e }, 'nsmgr failed to start');
  process.stderr.write(`nsmgr: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
