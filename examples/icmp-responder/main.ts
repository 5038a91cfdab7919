// icmp-responder binary: `node dist/examples/icmp-responder/main.js`, run inside the endpoint's
// network namespace (e.g. `ip netns exec NAME node ...`).
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { icmpResponderSchema } from './config.js';
import { startIcmpResponder } from './server.js';

await runDaemon('icmp-responder', icmpResponderSchema, (config) =>
  withIdentity(config, () =>
    startIcmpResponder({
      name: config.name ?? `icmp-responder-${hostname()}`,
      connectTo: config.connectTo,
      listenOn: config.listenOn,
      serviceNames: config.serviceNames,
      labels: config.labels,
      cidrPrefix: config.cidrPrefix,
      pbrConfigPath: config.pbrConfigPath || undefined,
      payload: config.payload,
      registerService: config.registerService,
      maxTokenLifetimeMs: config.maxTokenLifetime,
      maxLeasesPerClient: config.maxLeasesPerClient,
    }),
  ),
);
