// nsmgr binary: `node dist/nsmgr/main.js`, configured by NSM_* variables (see config.ts).
import { runDaemon } from '../sdk/tools/daemon.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { nsmgrOptions, nsmgrSchema } from './config.js';
import { startNsmgr } from './server.js';

await runDaemon('nsmgr', nsmgrSchema, (config) =>
  withIdentity(config, () => startNsmgr(nsmgrOptions(config))),
);
