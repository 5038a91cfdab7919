// forwarder binary: `node dist/forwarder/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { runDaemon } from '../sdk/tools/daemon.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { forwarderSchema } from './config.js';
import { startForwarder } from './server.js';

await runDaemon('forwarder', forwarderSchema, (config) =>
  withIdentity(config, () =>
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
  ),
);
