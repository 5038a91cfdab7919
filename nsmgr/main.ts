// nsmgr binary: `node dist/nsmgr/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../sdk/tools/config/index.js';
import { runDaemon } from '../sdk/tools/daemon.js';
import { nsmgrSchema } from './config.js';
import { startNsmgr } from './server.js';

const config = loadConfigOrExit('nsmgr', nsmgrSchema);

await runDaemon('nsmgr', () =>
  startNsmgr({
    name: config.name ?? `nsmgr-${hostname()}`,
    listenOn: config.listenOn,
    publicURL: config.publicURL,
    registryURL: config.registryURL,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    forwarderServiceName: config.forwarderServiceName,
  }),
);
