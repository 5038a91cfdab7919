// firewall binary: `node dist/examples/firewall/main.js`, run inside the CNF's network namespace,
// configured by NSM_* variables (the passthrough's plus NSM_FIREWALL_RULES).
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { firewallSchema } from './config.js';
import { startFirewall } from './server.js';

await runDaemon('firewall', firewallSchema, (config) =>
  startFirewall({
    name: config.name ?? `firewall-${hostname()}`,
    connectTo: config.connectTo,
    listenOn: config.listenOn,
    serviceNames: config.serviceNames,
    labels: config.labels,
    l2Join: config.l2Join,
    maxTokenLifetimeMs: config.maxTokenLifetime,
    rulesFile: config.rulesFile,
  }),
);
