// The registry binary: `node dist/registry/main.js`, configured by NSM_* variables (registry/config.ts).

import { runDaemon } from '../sdk/tools/daemon.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { registrySchema } from './config.js';
import { startRegistry } from './server.js';

await runDaemon('registry', registrySchema, (config) => withIdentity(config, () => startRegistry(config)));
