// forwarder binary: `node dist/forwarder/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../sdk/tools/config/index.js';
import { runDaemon } from '../sdk/tools/daemon.js';
import { forwarderSchema } from './config.js';
import { startForwarder } from './server.js';

const config = loadConfigOrExit('forwarder', forwarderSchema);

await runDaemon('forwarder', () =>
  startForwarder({
    name: config.name ?? `forwarder-${hostname()}`,
    listenOn: config.listenOn,
    connectTo: config.connectTo,
    tunnelIP: config.tunnelIP,
    vxlanPort: config.vxlanPort,
    vethMtu: config.vethMtu,
    labels: config.labels,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    reconcileGraceMs: config.reconcileGrace,
  }),
);
