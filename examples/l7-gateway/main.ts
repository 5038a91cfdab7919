// l7-gateway binary: `node dist/examples/l7-gateway/main.js`, run inside the gateway's network
// namespace (HAProxy, its child, serves there), configured by NSM_* variables.
import { hostname } from 'node:os';
import { runDaemon } from '../../sdk/tools/daemon.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { l7GatewaySchema } from './config.js';
import { startL7Gateway } from './server.js';

await runDaemon('l7-gateway', l7GatewaySchema, (config) =>
  withIdentity(config, () =>
    startL7Gateway({
      name: config.name ?? `l7-gateway-${hostname()}`,
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
      routesFile: config.routesFile,
      httpPort: config.httpPort,
      runDir: config.runDir,
      haproxy: config.haproxy,
      requestTimeoutMs: config.requestTimeout,
    }),
  ),
);
