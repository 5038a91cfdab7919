// l7-gateway binary: `node dist/examples/l7-gateway/main.js`, run inside the gateway's network
// namespace (HAProxy, its child, serves there), configured by NSM_* variables.
import { runDaemon } from '../../sdk/tools/daemon.js';
import { withIdentity } from '../../sdk/tools/spiffe/config.js';
import { icmpResponderOptions } from '../icmp-responder/config.js';
import { l7GatewaySchema } from './config.js';
import { startL7Gateway } from './server.js';

await runDaemon('l7-gateway', l7GatewaySchema, (config) =>
  withIdentity(config, () =>
    startL7Gateway({
      ...icmpResponderOptions(config, 'l7-gateway'),
      routesFile: config.routesFile,
      httpPort: config.httpPort,
      runDir: config.runDir,
      haproxy: config.haproxy,
      requestTimeoutMs: config.requestTimeout,
    }),
  ),
);
