// nsmgr binary: `node dist/nsmgr/main.js`, configured by NSM_* variables (see config.ts).
import { hostname } from 'node:os';
import { runDaemon } from '../sdk/tools/daemon.js';
import { withIdentity } from '../sdk/tools/spiffe/config.js';
import { nsmgrSchema } from './config.js';
import { startNsmgr } from './server.js';

await runDaemon('nsmgr', nsmgrSchema, (config) =>
  withIdentity(config, () =>
    startNsmgr({
      name: config.name ?? `nsmgr-${hostname()}`,
      listenOn: config.listenOn,
      publicURL: config.publicURL,
      registryURL: config.registryURL,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      forwarderServiceName: config.forwarderServiceName,
      nodeName: config.nodeName ?? hostname(),
      allowForeignNetns: config.allowForeignNetns,
      operatorNetns: config.operatorNetns
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== ''),
      excludedPrefixesFile: config.excludedPrefixesFile,
      authzPolicyFile: config.authzPolicyFile,
    }),
  ),
);
