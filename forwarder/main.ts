// forwarder binary: `node dist/forwarder/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../sdk/tools/config/index.js';
import { logger } from '../sdk/tools/log.js';
import { forwarderSchema } from './config.js';
import { startForwarder } from './server.js';

const log = logger('forwarder');
const config = loadConfigOrExit('forwarder', forwarderSchema);

try {
  const forwarder = await startForwarder({
    name: config.name ?? `forwarder-${hostname()}`,
    listenOn: config.listenOn,
    connectTo: config.connectTo,
    tunnelIP: config.tunnelIP,
    vxlanPort: config.vxlanPort,
    vethMtu: config.vethMtu,
    labels: config.labels,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    reconcileGraceMs: config.reconcileGrace,
  });
  const stop = async () => {
    await forwarder.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  log.error({ err: e }, 'forwarder failed to start');
  process.stderr.write(`forwarder: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
