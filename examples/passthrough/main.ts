// passthrough binary: `node dist/examples/passthrough/main.js`, run inside the CNF's network
// namespace (it joins interfaces and switches on forwarding there), configured by NSM_* variables.
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { passthroughSchema } from './config.js';
import { startPassthrough } from './server.js';

await runDaemon('passthrough', passthroughSchema, (config) =>
  startPassthrough({
    name: config.name ?? `passthrough-${hostname()}`,
    connectTo: config.connectTo,
    listenOn: config.listenOn,
    serviceNames: config.serviceNames,
    labels: config.labels,
    l2Join: config.l2Join,
    maxTokenLifetimeMs: config.maxTokenLifetime,
  }),
);
