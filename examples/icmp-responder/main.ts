// icmp-responder binary: `node dist/examples/icmp-responder/main.js`, run inside the endpoint's
// network namespace (e.g. `ip netns exec NAME node ...`).
import { hostname } from 'node:os';
import { loadConfigOrExit } from '../../sdk/tools/config/index.js';
import { logger } from '../../sdk/tools/log.js';
import { icmpResponderSchema } from './config.js';
import { startIcmpResponder } from './server.js';

const log = logger('icmp-responder');
const config = loadConfigOrExit('icmp-responder', icmpResponderSchema);

try {
  const endpoint = await startIcmpResponder({
    name: config.name ?? `icmp-responder-${hostname()}`,
    connectTo: config.connectTo,
    listenOn: config.listenOn,
    serviceNames: config.serviceNames,
    labels: config.labels,
    cidrPrefix: config.cidrPrefix,
    payload: config.payload,
    registerService: config.registerService,
    maxTokenLifetimeMs: config.maxTokenLifetime,
  });
  const stop = async () => {
    await endpoint.close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  log.error({ err: e }, 'icmp-responder failed to start');
  process.stderr.write(`icmp-responder: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
}
