// firewall binary: `node dist/examples/firewall/main.js`, run inside the CNF's network namespace,
// configured by NSM_* variables (the passthrough's plus NSM_FIREWALL_RULES).
import { runDaemon } from '../../sdk/tools/daemon.js';
import { passthroughOptions } from '../passthrough/config.js';
import { firewallSchema } from './config.js';
import { startFirewall } from './server.js';

await runDaemon('firewall', firewallSchema, (config) =>
  startFirewall({ ...passthroughOptions(config, 'firewall'), rulesFile: config.rulesFile }),
);
