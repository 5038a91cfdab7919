// vL3 endpoint binary: `node dist/examples/vl3/main.js`, run inside the replica's network namespace.
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { vl3Schema } from './config.js';
import { startVl3Endpoint } from './server.js';

await runDaemon('vl3', vl3Schema, (c) =>
  startVl3Endpoint({
    name: c.name ?? `vl3-${hostname()}`,
    connectTo: c.connectTo,
    listenOn: c.listenOn,
    serviceName: c.serviceName,
    labels: c.labels,
    prefixServerURL: c.prefixServerURL,
    prefix: c.prefix[0],
    dnsPort: c.dnsPort,
    peerPollMs: c.peerPollInterval,
    requestTimeoutMs: c.requestTimeout,
    maxTokenLifetimeMs: c.maxTokenLifetime,
    stateFile: c.stateFile || undefined,
  }),
);
