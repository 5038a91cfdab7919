// forwarder binary: `node dist/forwarder/main.js`, configured by NSM_* variables (see config.ts).
import { runDaemon } from '../sdk/tools/daemon.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { forwarderOptions, forwarderSchema } from './config.js';
import { startForwarder } from './server.js';

await runDaemon('forwarder', forwarderSchema, (config) =>
  withIdentity(config, () => startForwarder(forwarderOptions(config))),
);
